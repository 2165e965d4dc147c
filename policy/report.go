package policy

import (
	"fmt"
	"io"
	"net/netip"
	"sort"
	"sync"

	"github.com/htapod/htapod/event"
)

// Report collects the denials of a run from its event.Policy events, for
// the end of the run: what was denied (or, in audit mode, would have
// been), by which rule, from which process. Its Handle is an event
// handler; it is safe for concurrent use.
type Report struct {
	mu      sync.Mutex
	denials map[denialKey]*Denial
	order   int
	audit   bool
}

// Denial is one kind of thing the policy denied in a run: a destination at
// a stage, by a rule, with how often and the first process that tried.
type Denial struct {
	Stage   event.PolicyStage
	Proto   event.Proto
	Dst     netip.AddrPort // zero for StageDNS
	Name    string
	Rule    string
	Count   int
	Process *event.Process
	first   int
}

type denialKey struct {
	stage event.PolicyStage
	proto event.Proto
	dst   netip.AddrPort
	name  string
	rule  string
}

// Handle records an event.Policy that denies; other events are ignored.
func (r *Report) Handle(e event.Event) {
	ev, ok := e.(*event.Policy)
	if !ok || ev == nil || !ev.Denied {
		return
	}
	k := denialKey{ev.Stage, ev.Proto, ev.Dst, ev.Name, ev.Rule}
	if ev.Stage == event.StageDNS {
		k.dst, k.proto = netip.AddrPort{}, ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.audit = r.audit || ev.Audit
	if r.denials == nil {
		r.denials = map[denialKey]*Denial{}
	}
	d := r.denials[k]
	if d == nil {
		r.order++
		d = &Denial{Stage: ev.Stage, Proto: k.proto, Dst: k.dst, Name: ev.Name, Rule: ev.Rule, Process: ev.Process, first: r.order}
		r.denials[k] = d
	}
	d.Count++
}

// Denials returns what was denied, in the order first seen.
func (r *Report) Denials() []Denial {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Denial, 0, len(r.denials))
	for _, d := range r.denials {
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].first < out[j].first })
	return out
}

// Denied says whether anything was denied (or would have been).
func (r *Report) Denied() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.denials) > 0
}

// What is the destination in words: "www.lab.test (203.0.113.10:443)",
// "203.0.113.20:7", or the name for DNS.
func (d Denial) What() string {
	switch {
	case d.Stage == event.StageDNS:
		return d.Name
	case d.Name != "":
		return d.Name + " (" + d.Dst.String() + ")"
	}
	return d.Dst.String()
}

// WriteTo writes the end-of-run summary, a line a denial:
//
//	policy: denied 2 destinations:
//	  tcp 203.0.113.20:7 at connect (1×) by no rule matched (…) from sh → curl http://203.0.113.20:7/ (pid 41)
//
// Nothing is written when nothing was denied.
func (r *Report) WriteTo(w io.Writer) (int64, error) {
	ds := r.Denials()
	if len(ds) == 0 {
		return 0, nil
	}
	r.mu.Lock()
	verb := "denied"
	if r.audit {
		verb = "would have denied (audit)"
	}
	r.mu.Unlock()
	noun := "destinations"
	if len(ds) == 1 {
		noun = "destination"
	}
	var n int64
	c, err := fmt.Fprintf(w, "policy: %s %d %s:\n", verb, len(ds), noun)
	n += int64(c)
	for _, d := range ds {
		if err != nil {
			return n, err
		}
		proto := string(d.Proto)
		if d.Stage == event.StageDNS {
			proto = "dns"
		}
		c, err = fmt.Fprintf(w, "  %s %s at %s (%d×) by %s from %s\n", proto, d.What(), d.Stage, d.Count, d.Rule, describeProcess(d.Process))
		n += int64(c)
	}
	return n, err
}
