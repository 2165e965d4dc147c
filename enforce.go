package htapod

import (
	"fmt"
	"github.com/htapod/htapod/respond"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/internal/netstack"
	"github.com/htapod/htapod/internal/proc"
	"github.com/htapod/htapod/policy"
	"github.com/htapod/htapod/route"
)

// enforceConfig is the policy part of a Runner's config.
type enforceConfig struct {
	policy *policy.Policy
	opts   PolicyOptions
	// noProcesses turns the lookup of the process behind each flow off.
	noProcesses bool
}

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

// releasedFunc tells the process finder that the command closed its
// side of a TCP flow (relay.Config.Released); nil when lookups are off.
func (b *boxLate) releasedFunc() func(src, dst netip.AddrPort) {
	if !b.on {
		return nil
	}
	return func(src, dst netip.AddrPort) {
		if f := b.finder.Load(); f != nil {
			f.Released(src, dst)
		}
	}
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

// withHostGuard returns a, plus the policy's check of each HTTP request's
// Host (or :authority) on the connections where some Host could be denied
// (policy.HostsMayDeny): a denied request gets a 403 whose body names the
// rule. Connections where every name is allowed stay a byte relay; when
// the check is the only decider, plaintext HTTP/1 passes through a gate
// (relay.Act.HostOnly) rather than htapod's HTTP server.
func (a actConfig) withHostGuard(enf *policy.Enforcer) *actConfig {
	if enf == nil || enf.Audit {
		// Audit changes nothing: checking each Host would put htapod's
		// HTTP server between the command and the server.
		return &a
	}
	a.hostGuard = func(f route.Flow) respond.Decider {
		q := policy.Query{Proto: f.Proto, Addr: f.Dst.Addr(), Port: f.Dst.Port()}
		if !enf.Policy.HostsMayDeny(q) {
			return nil
		}
		return func(r *http.Request) respond.Decision {
			if h, _, err := net.SplitHostPort(r.Host); r.Host == "" || isAddr(r.Host) || err == nil && isAddr(h) {
				return respond.Decision{} // no name: judged at connect
			}
			denied, rule := enf.CheckHost(f, r.Host)
			if !denied || enf.Audit {
				return respond.Decision{}
			}
			body := fmt.Sprintf("htapod: the egress policy denies %s (%s)\n", r.Host, rule)
			return respond.Decision{Action: "policy deny", Response: &respond.Response{
				Status: http.StatusForbidden,
				Header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "X-Htapod-Policy": {"deny"}},
				Body:   []byte(body)}}
		}
	}
	return &a
}

// isAddr says whether an HTTP Host is an IP literal ("203.0.113.7",
// "[2001:db8::1]").
func isAddr(h string) bool {
	_, err := netip.ParseAddr(strings.Trim(h, "[]"))
	return err == nil
}
