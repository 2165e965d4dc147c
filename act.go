package htapod

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"os"
	"syscall"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/internal/relay"
	"github.com/htapod/htapod/respond"
	"github.com/htapod/htapod/route"
	"github.com/htapod/htapod/sink"
	"github.com/htapod/htapod/sink/redact"
)

// actConfig is what acts on HTTP requests (see package respond).
type actConfig struct {
	rules     []respond.Rule
	replay    *respond.Replay
	responder respond.Decider
	perFlow   []func(route.Flow) respond.Decider
	// hostGuard is the egress policy's check of each request's Host
	// (withHostGuard), asked per flow like perFlow; nil for none.
	hostGuard func(route.Flow) respond.Decider
}

// decider chains the run's rules, responder and replay, or is nil.
func (a *actConfig) decider() respond.Decider {
	var next respond.Decider
	if a.replay != nil {
		next = a.replay.Decide
	}
	if a.responder != nil {
		user, replay := a.responder, next
		next = func(r *http.Request) respond.Decision {
			d := user(r)
			if d.Acts() || d.Action != "" || replay == nil {
				return d
			}
			return replay(r)
		}
	}
	if len(a.rules) > 0 {
		return respond.Rules(a.rules, next)
	}
	return next
}

// offline says the run must not reach the network.
func (a *actConfig) offline() bool { return a.replay != nil && a.replay.Offline() }

// httpHook is the relay's Config.HTTP for the run, or nil.
func (a *actConfig) httpHook() func(route.Flow) *relay.Act {
	d := a.decider()
	if d == nil && len(a.perFlow) == 0 && a.hostGuard == nil {
		return nil
	}
	base := &relay.Act{Decide: d, Offline: a.offline(), Fallback: a.replay != nil}
	if a.replay != nil {
		base.HTTP2 = a.replay.HTTP2
	}
	if len(a.perFlow) == 0 && a.hostGuard == nil {
		return func(route.Flow) *relay.Act { return base }
	}
	return func(f route.Flow) *relay.Act {
		var ds []respond.Decider
		for _, fn := range a.perFlow {
			if x := fn(f); x != nil {
				ds = append(ds, x)
			}
		}
		var guard respond.Decider
		if a.hostGuard != nil {
			guard = a.hostGuard(f)
		}
		if guard != nil && d == nil && len(ds) == 0 {
			// Only Hosts are judged: no HTTP server is needed on the flow.
			return &relay.Act{Decide: guard, HostOnly: true}
		}
		if guard != nil {
			ds = append(ds, guard)
		}
		if len(ds) == 0 {
			if d == nil {
				return nil // this flow stays a byte relay
			}
			return base
		}
		act := *base
		act.Decide = respond.Chain(append(ds, d)...)
		return &act
	}
}

// offlineRouter refuses every UDP flow but htapod's own services when the
// run is offline.
func (a *actConfig) offlineRouter(next route.Router) route.Router {
	if !a.offline() {
		return next
	}
	return route.Func(func(f route.Flow) route.Decision {
		d := next.Route(f)
		if f.Proto == event.UDP && d.Action != route.Local {
			d.Action = route.Deny
		}
		return d
	})
}

// errOffline is the DNS error of a name that is not in the recording of
// an offline replay.
var errOffline = errors.New("offline replay: the name is not in the recording")

// offlineExchange answers every query that htapod's resolver would
// forward with SERVFAIL: an offline run sends nothing out.
func offlineExchange(context.Context, *mdns.Msg, string, string) (*mdns.Msg, error) {
	return nil, errOffline
}

// redacted is the sink of an output, with secrets redacted when it is a
// JSON or HAR file and the user does not keep them.
func (c *config) redacted(ns namedSink) sink.Sink {
	if !ns.file || c.keepSecrets {
		return ns.s
	}
	r := c.redactor
	if r == nil {
		r, _ = redact.New() // the defaults cannot fail
	}
	return r.Sink(ns.s)
}

// dialer is the relay's Dial with the run's connect-time faults (refuse,
// blackhole) in front, or nil when there are none. name gives the name
// the command resolved for an address; each fault is reported as a notice
// beside the flow's own line (refused, or timeout).
func (a *actConfig) dialer(name func(netip.Addr) string, emit event.Handler) func(context.Context, string, string) (net.Conn, error) {
	var connect []respond.Rule
	for _, r := range a.rules {
		if r.Fault.Connect() {
			connect = append(connect, r)
		}
	}
	if len(connect) == 0 {
		return nil
	}
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil || network != "tcp" {
			return d.DialContext(ctx, network, addr)
		}
		n := name(ap.Addr())
		r := respond.ConnectFault(connect, ap, n)
		if r == nil {
			return d.DialContext(ctx, network, addr)
		}
		what := addr
		if n != "" {
			what += " (" + n + ")"
		}
		emit(&event.Notice{Time: time.Now(), Level: "info", Message: r.Action + ": " + what})
		cause := os.ErrDeadlineExceeded // the relay drops the SYN
		if r.Fault.Refuse {
			cause = os.NewSyscallError("connect", syscall.ECONNREFUSED) // a RST
		}
		return nil, &net.OpError{Op: "dial", Net: network, Err: cause}
	}
}
