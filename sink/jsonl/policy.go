package jsonl

import "github.com/htapod/htapod/event"

// processObject is the "process" field of flow, flow_open, dns, http and
// policy objects: the process behind the event.
type processObject struct {
	PID  int      `json:"pid,omitempty"`
	Exe  string   `json:"exe,omitempty"`
	Argv []string `json:"argv,omitempty"`
	// Parents are its ancestors in the box, the command htapod started
	// first.
	Parents []ancestorObject `json:"parents,omitempty"`
	// Chain is the whole in words: "npm → sh → node install.js".
	Chain string `json:"chain"`
	// Error says why the process is unknown.
	Error string `json:"error,omitempty"`
}

type ancestorObject struct {
	PID  int      `json:"pid"`
	Exe  string   `json:"exe,omitempty"`
	Argv []string `json:"argv,omitempty"`
}

func processJSON(p *event.Process) *processObject {
	if p == nil {
		return nil
	}
	o := &processObject{PID: p.PID, Exe: p.Exe, Argv: p.Argv, Chain: p.Chain(), Error: p.Err}
	for _, a := range p.Parents {
		o.Parents = append(o.Parents, ancestorObject{PID: a.PID, Exe: a.Exe, Argv: a.Argv})
	}
	return o
}

// policyObject is a policy decision: a denial (or, audit, a would-be
// denial) or a name that disagrees with its connection.
type policyObject struct {
	header
	Stage    event.PolicyStage `json:"stage"`
	Proto    event.Proto       `json:"proto,omitempty"`
	Dst      string            `json:"dst,omitempty"`
	Name     string            `json:"name,omitempty"`
	Denied   bool              `json:"denied"`
	Audit    bool              `json:"audit,omitempty"`
	Rule     string            `json:"rule,omitempty"`
	Fronting string            `json:"fronting,omitempty"`
	Process  *processObject    `json:"process,omitempty"`
}

func policyJSON(h header, p *event.Policy) policyObject {
	return policyObject{header: h, Stage: p.Stage, Proto: p.Proto, Dst: addr(p.Dst), Name: p.Name,
		Denied: p.Denied, Audit: p.Audit, Rule: p.Rule, Fronting: p.Fronting, Process: processJSON(p.Process)}
}
