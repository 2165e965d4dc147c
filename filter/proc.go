package filter

import (
	"regexp"

	"github.com/htapod/htapod/event"
)

// matchProc is ~proc: the process behind a flow, DNS query, HTTP exchange
// or policy decision — its executable's path or its chain in words
// ("sh → curl -s https://www.lab.test/"). An event whose process htapod
// did not look up or could not find matches nothing.
func matchProc(re *regexp.Regexp, e event.Event) bool {
	p := processOf(e)
	if p == nil || p.Err != "" {
		return false
	}
	return re.MatchString(p.Exe) || re.MatchString(p.Chain())
}

// processOf is the process an event carries, or nil.
func processOf(e event.Event) *event.Process {
	switch e := e.(type) {
	case *event.Flow:
		return e.Process
	case *event.FlowOpen:
		return e.Process
	case *event.DNS:
		return e.Process
	case *event.Policy:
		return e.Process
	case *event.HTTP:
		return e.Process
	}
	return nil
}
