package redact

import (
	"strings"

	"github.com/htapod/htapod/event"
)

// secretWords mark a command-line argument that carries a credential
// (`-H "Authorization: Bearer …"`, `--token=…`, `password=…`).
var secretWords = []string{"authorization", "cookie", "token", "passw", "secret", "api-key", "apikey", "api_key", "bearer"}

// secretFlags take a credential as their next argument (curl's -u/-b,
// wget's --password, …).
var secretFlags = map[string]bool{"-u": true, "--user": true, "-b": true, "--cookie": true,
	"--password": true, "--http-password": true, "--proxy-user": true, "-U": true}

// process returns p with the arguments that look like credentials
// replaced by the placeholder, in its own argv and its ancestors' (a
// copy when anything changed): a command line is as much a secret as the
// header it puts on the wire.
func process(p *event.Process) *event.Process {
	if p == nil {
		return nil
	}
	args, changed := redactArgv(p.Argv)
	parents := p.Parents
	copied := false
	for i, a := range p.Parents {
		if v, ch := redactArgv(a.Argv); ch {
			if !copied {
				parents, copied = append([]event.Ancestor(nil), p.Parents...), true
			}
			parents[i].Argv, changed = v, true
		}
	}
	if !changed {
		return p
	}
	c := *p
	c.Argv, c.Parents = args, parents
	return &c
}

// redactArgv redacts one command line.
func redactArgv(args []string) ([]string, bool) {
	var out []string
	for i, a := range args {
		secret := i > 0 && secretFlags[args[i-1]]
		lower := strings.ToLower(a)
		for _, w := range secretWords {
			secret = secret || strings.Contains(lower, w)
		}
		if !secret {
			continue
		}
		if out == nil {
			out = append([]string(nil), args...)
		}
		out[i] = Placeholder
	}
	if out == nil {
		return args, false
	}
	return out, true
}

// processEvent redacts the process of the events that carry one; an
// event whose process has nothing to redact is returned as it is.
func processEvent(e event.Event) event.Event {
	switch e := e.(type) {
	case *event.Flow:
		if c := *e; redactIn(&c.Process) {
			return &c
		}
	case *event.FlowOpen:
		if c := *e; redactIn(&c.Process) {
			return &c
		}
	case *event.DNS:
		if c := *e; redactIn(&c.Process) {
			return &c
		}
	case *event.Policy:
		if c := *e; redactIn(&c.Process) {
			return &c
		}
	}
	return e
}

// redactIn redacts *p in place (p points into a copy of an event) and
// says whether anything changed.
func redactIn(p **event.Process) bool {
	q := process(*p)
	changed := q != *p
	*p = q
	return changed
}
