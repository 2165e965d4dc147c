package filter

import (
	"testing"

	"github.com/htapod/htapod/event"
)

func TestMatchProc(t *testing.T) {
	curl := &event.Process{PID: 9, Exe: "/usr/bin/curl", Argv: []string{"curl", "-s", "https://www.lab.test/"},
		Parents: []event.Ancestor{{PID: 2, Exe: "/usr/bin/dash", Argv: []string{"sh", "-c", "x"}}}}
	py := &event.Process{PID: 10, Exe: "/usr/bin/python3.11", Argv: []string{"python3", "-c", "x"}}
	unknown := &event.Process{Err: "socket not found"}
	events := []struct {
		name string
		e    event.Event
	}{
		{"flow", &event.Flow{ID: 1, Process: curl}},
		{"open", &event.FlowOpen{ID: 2, Process: py}},
		{"dns", &event.DNS{Name: "x", Process: py}},
		{"policy", &event.Policy{Process: curl}},
		{"unknown", &event.Flow{ID: 3, Process: unknown}},
		{"none", &event.Flow{ID: 4}},
	}
	tests := []struct{ expr, want string }{
		{"~proc curl", "flow policy"},
		{"~proc python3", "open dns"},
		{`~proc '^/usr/bin/python3'`, "open dns"},
		{`~proc 'sh → curl'`, "flow policy"},
		{"~proc CURL", ""}, // case-sensitive, as file names are
		{"!~proc .", "unknown none"},
	}
	for _, tt := range tests {
		f, err := Parse(tt.expr)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.expr, err)
		}
		got := ""
		for _, ev := range events {
			if f.Match(ev.e) {
				if got != "" {
					got += " "
				}
				got += ev.name
			}
		}
		if got != tt.want {
			t.Errorf("%s matches %q; want %q", tt.expr, got, tt.want)
		}
	}
}
