package text

import (
	"fmt"
	"strings"

	"github.com/htapod/htapod/event"
)

// formatPolicy renders a policy decision:
//
//	policy  denied  tcp 203.0.113.20:7  at connect  by deny 203.0.113.0/24 (--deny)  from sh → curl http://203.0.113.20:7/ (pid 41)
func formatPolicy(p *event.Policy) string {
	verb := "denied"
	switch {
	case p.Denied && p.Audit:
		verb = "would deny (audit)"
	case !p.Denied:
		verb = "noticed"
	}
	what := string(p.Proto) + " "
	if p.Stage == event.StageDNS {
		what = "dns "
	}
	switch {
	case p.Stage == event.StageDNS:
		what += p.Name
	case p.Name != "":
		what += p.Name + " (" + p.Dst.String() + ")"
	default:
		what += p.Dst.String()
	}
	fields := []string{"policy", verb, what, "at " + string(p.Stage)}
	if p.Fronting != "" {
		why := fmt.Sprintf("(%s did)", p.Fronting)
		if p.Fronting == p.Dst.Addr().String() { // no name resolved to it
			why = "(it resolved to other addresses)"
		}
		fields = append(fields, fmt.Sprintf("domain fronting: %s did not resolve to %s %s", p.Name, p.Dst.Addr(), why))
	}
	if p.Rule != "" {
		fields = append(fields, "by "+p.Rule)
	}
	fields = append(fields, "from "+processText(p.Process))
	return strings.Join(fields, "  ")
}

// processText is a process in a report line: its chain and pid.
func processText(p *event.Process) string {
	if p == nil {
		return "an unknown process"
	}
	s := p.Chain()
	if p.PID != 0 {
		s += fmt.Sprintf(" (pid %d)", p.PID)
	}
	return s
}

// formatFlowProcess is the flow line with its process after the
// destination's name, so that the line still ends with how the flow ended:
//
//	tcp  203.0.113.10:80  www.lab.test  by sh → curl http://www.lab.test/ (pid 41)  ↑78 B  ↓615 B  12 ms  closed
func formatFlowProcess(f *event.Flow) string {
	g := *f
	if g.Name != "" {
		g.Name += "  by " + processText(f.Process)
	} else {
		g.Name = "by " + processText(f.Process)
	}
	return formatFlow(&g)
}
