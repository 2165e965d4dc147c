package policy

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/route"
)

// Enforcer applies a Policy to a run: it is the route.Router that denies
// flows (or, in audit mode, reports that it would), and the check of
// names at DNS and of HTTP hosts. Each denial is an event.Policy (a Report
// collects them). Set its fields before use; then it is safe for
// concurrent use.
type Enforcer struct {
	// Policy decides; nil allows everything.
	Policy *Policy
	// Next decides what the policy allows; nil means route.Direct.
	Next route.Router
	// Audit applies nothing: would-be denials are reported and counted,
	// and every flow goes on.
	Audit bool
	// DenyFronting denies a TLS or HTTP name that is fronting (see
	// Fronting); without it such a name is only reported.
	DenyFronting bool
	// Resolved says whether the command resolved name to addr through
	// htapod's resolver; nil turns the domain fronting check off.
	Resolved func(name string, addr netip.Addr) bool
	// Known says whether the command resolved name to any address through
	// htapod's resolver; nil counts every name as known.
	Known func(name string) bool
	// Events receives an event.Policy per denial and per fronting name
	// (a Report collects them); nil drops them.
	Events event.Handler
}

var _ route.Router = (*Enforcer)(nil)

// Route implements route.Router: the policy first, then Next for what it
// allows (and, in audit mode, for everything).
func (e *Enforcer) Route(f route.Flow) route.Decision {
	if denied, _ := e.judge(f); denied && !e.Audit {
		return route.Decision{Action: route.Deny, Dst: f.Dst}
	}
	next := e.Next
	if next == nil {
		next = route.Direct
	}
	return next.Route(f)
}

// CheckHost decides an HTTP request's Host (or :authority) on flow f, as
// Route would at that stage, and reports a denial. denied is what the
// policy says (also in audit mode, where the caller lets the request go
// on); rule says why.
func (e *Enforcer) CheckHost(f route.Flow, host string) (denied bool, rule string) {
	f.Host = host
	return e.judge(f)
}

// judge decides f at its stage (connect, or the SNI or Host it carries),
// reports a denial or a fronting name, and returns the verdict.
func (e *Enforcer) judge(f route.Flow) (denied bool, rule string) {
	stage, name := event.StageConnect, f.Name
	switch {
	case f.Host != "":
		stage, name = event.StageHTTP, hostOnly(f.Host)
	case f.SNI != "":
		stage, name = event.StageTLS, f.SNI
	}
	v := e.Policy.Decide(Query{Proto: f.Proto, Addr: f.Dst.Addr(), Port: f.Dst.Port(), Name: name})
	fronting := ""
	if stage != event.StageConnect {
		switch fronts, unchecked := e.fronting(f, name); {
		case fronts:
			fronting = f.Name
			if fronting == "" {
				fronting = f.Dst.Addr().String()
			}
		case unchecked:
			e.unchecked(stage, name, f.Dst)
		}
	}
	if v.Allow && fronting == "" {
		return false, ""
	}
	ev := &event.Policy{FlowID: f.ID, Time: time.Now(), Stage: stage, Proto: f.Proto, Dst: f.Dst,
		Name: name, Denied: !v.Allow, Audit: e.Audit, Fronting: fronting, Process: f.Process}
	switch {
	case ev.Denied:
		ev.Rule = v.Reason()
	case e.DenyFronting:
		ev.Denied, ev.Rule = true, "domain fronting denied (--deny-fronting)"
	}
	e.report(ev)
	return ev.Denied, ev.Rule
}

// fronting says whether name (an SNI or Host) on flow f is domain
// fronting: name did not resolve to the flow's address, and htapod saw
// where the command meant to go — the address was an answer for another
// name (f.Name: the command looked up a front and speaks to it of
// another name), or name itself was looked up and answered elsewhere. A
// name never looked up on an address no lookup gave (a literal IP, curl's
// --resolve or --connect-to to an address) is no evidence: not fronting.
// unchecked says so: the name could not be checked.
func (e *Enforcer) fronting(f route.Flow, name string) (fronts, unchecked bool) {
	if e.Resolved == nil || normName(name) == normName(f.Name) || e.Resolved(normName(name), f.Dst.Addr()) {
		return false, false
	}
	if f.Name != "" || e.Known == nil || e.Known(normName(name)) {
		return true, false
	}
	return false, true
}

// unchecked tells (a debug notice: the report's -v) that name, at stage,
// on a connection to dst, was not checked for domain fronting.
func (e *Enforcer) unchecked(stage event.PolicyStage, name string, dst netip.AddrPort) {
	if e.Events != nil {
		e.Events(&event.Notice{Time: time.Now(), Level: "debug", Message: fmt.Sprintf(
			"%s name %s on %s: not resolved through htapod, not checked for domain fronting", stage, name, dst)})
	}
}

// AllowDNS decides a query for name to htapod's resolver: false means
// the resolver answers REFUSED and never forwards it. rule says why.
func (e *Enforcer) AllowDNS(name string, server netip.AddrPort, proto event.Proto, proc *event.Process) (ok bool, rule string) {
	v := e.Policy.DecideName(name)
	if v.Allow {
		return true, ""
	}
	e.report(&event.Policy{Time: time.Now(), Stage: event.StageDNS, Proto: proto, Dst: server,
		Name: normName(name), Denied: true, Audit: e.Audit, Rule: v.Reason(), Process: proc})
	return e.Audit, v.Reason()
}

func (e *Enforcer) report(ev *event.Policy) {
	if e.Events != nil {
		e.Events(ev)
	}
}

// hostOnly is an HTTP Host without its port.
func hostOnly(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return strings.Trim(h, "[]")
}
