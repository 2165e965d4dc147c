package htapod

import (
	"net/netip"
	"os"
	"sync/atomic"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/internal/netstack"
	"github.com/htapod/htapod/internal/proc"
	"github.com/htapod/htapod/policy"
	"github.com/htapod/htapod/route"
)

// PolicyOptions say how WithPolicy applies its policy.
type PolicyOptions struct {
	// Audit applies nothing: every flow goes on, and what the policy
	// would deny is reported all the same (event.Policy with Audit set).
	Audit bool
	// DenyFronting denies a TLS server name or HTTP Host that is not among
	// the names the command resolved to the flow's address (domain
	// fronting); without it such a name is only reported.
	DenyFronting bool
}

// enforceConfig is the policy part of a Runner's config.
type enforceConfig struct {
	policy *policy.Policy
	opts   PolicyOptions
	// noProcesses turns the lookup of the process behind each flow off.
	noProcesses bool
}

// WithPolicy applies p to every flow of the command, decided wherever a
// name appears (see package policy): a denied connection is refused (TCP:
// ECONNREFUSED; UDP: an ICMP port unreachable), a denied TLS server name
// fails the handshake with an alert, and a query to htapod's resolver for
// a denied name is answered REFUSED and goes nowhere. Each denial is an
// event.Policy; policy.Report collects them for the end of the run. The
// policy comes after htapod's resolver and before WithHostMap and WithMapping
// rules: it judges the destination the command asked for.
func WithPolicy(p *policy.Policy, o PolicyOptions) Option {
	return func(c *config) { c.enforce.policy, c.enforce.opts = p, o }
}

// WithProcesses turns on or off (default on) finding the process behind
// each flow and each query to htapod's resolver (event.Process on flows,
// DNS and HTTP events, and on route.Flow for a router). It costs one
// sock_diag request and a look at the box's processes' file descriptors
// per new socket.
func WithProcesses(on bool) Option { return func(c *config) { c.enforce.noProcesses = !on } }

// enforcer returns the run's policy router, or nil without a policy. Its
// Next and Resolved are set when the run's router and resolver exist.
func (r *Runner) enforcer(emit event.Handler) *policy.Enforcer {
	e := r.cfg.enforce
	if e.policy == nil {
		return nil
	}
	return &policy.Enforcer{Policy: e.policy, Audit: e.opts.Audit, DenyFronting: e.opts.DenyFronting, Events: emit}
}

// withEnforcer puts enf (when there is one) in front of next.
func withEnforcer(enf *policy.Enforcer, next route.Router) route.Router {
	if enf == nil {
		return next
	}
	enf.Next = next
	return enf
}

// boxLate holds what a run's relay and resolver need from parts made
// after them: the process finder (once the box exists) and the netstack
// (to refuse denied UDP flows). Until then lookups find nothing.
type boxLate struct {
	on     bool
	finder atomic.Pointer[proc.Finder]
	stack  atomic.Pointer[netstack.Stack]
}

// setBox starts finding processes in the box whose command is pid; diag
// is the box's sock_diag socket (or nil).
func (b *boxLate) setBox(pid int, diag *os.File) error {
	if !b.on {
		return nil
	}
	f, err := proc.New(pid, diag)
	if err != nil {
		return err
	}
	b.finder.Store(f)
	return nil
}

// process finds the process behind a flow, or returns nil when off.
func (b *boxLate) process(proto event.Proto, src, dst netip.AddrPort) *event.Process {
	f := b.finder.Load()
	if f == nil {
		return nil
	}
	return f.Lookup(proto, src, dst)
}

// processFunc is process, or nil when lookups are off (so the relay and
// resolver skip them).
func (b *boxLate) processFunc() func(event.Proto, netip.AddrPort, netip.AddrPort) *event.Process {
	if !b.on {
		return nil
	}
	return b.process
}

// refuseUDP answers a denied UDP flow with a port unreachable.
func (b *boxLate) refuseUDP(src, dst netip.AddrPort) {
	if st := b.stack.Load(); st != nil {
		st.RefuseUDP(src, dst)
	}
}
