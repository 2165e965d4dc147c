package har

import "github.com/htapod/htapod/event"

// processField is the entry's "_process" custom field: the process that
// made the request (the one that opened its connection).
type processField struct {
	PID   int      `json:"pid,omitempty"`
	Exe   string   `json:"exe,omitempty"`
	Argv  []string `json:"argv,omitempty"`
	Chain string   `json:"chain"`
	Error string   `json:"error,omitempty"`
}

func newProcessField(p *event.Process) *processField {
	if p == nil {
		return nil
	}
	return &processField{PID: p.PID, Exe: p.Exe, Argv: p.Argv, Chain: p.Chain(), Error: p.Err}
}
