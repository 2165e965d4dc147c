package htapod

import (
	"context"
	"errors"
	"net/http"

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
}

// WithMock answers the HTTP requests that match a rule's filter with its
// response, instead of the server (see respond.ParseMock). Other requests
// flow as usual. Rules are tried in order; the first match answers.
func WithMock(rules ...respond.Rule) Option {
	return func(c *config) { c.act.rules = append(c.act.rules, rules...) }
}

// WithFault disturbs the HTTP exchanges that match a rule's filter (see
// respond.ParseFault): delays, resets, error statuses, silence, a slow
// line. The first matching fault rule applies.
func WithFault(rules ...respond.Rule) Option {
	return func(c *config) { c.act.rules = append(c.act.rules, rules...) }
}

// WithReplay answers HTTP requests from a recording (see
// respond.LoadReplay): names in it resolve in the box, and unless the
// replay forwards misses, no flow leaves the machine — TCP flows are
// served by htapod itself (TLS with its minted leaf), UDP flows other
// than DNS to htapod are refused, and names not in the recording do not
// resolve.
func WithReplay(rp *respond.Replay) Option { return func(c *config) { c.act.replay = rp } }

// WithResponder puts every HTTP request of the command to d, a Go
// program's own responder: it may answer the request, disturb it, or
// forward it (the zero Decision). Mock and fault rules are asked first; a
// replay after d when d forwards without an Action.
func WithResponder(d respond.Decider) Option { return func(c *config) { c.act.responder = d } }

// WithFlowResponder is WithResponder with the flow: fn is called once per
// relayed TCP flow (addresses, the name the command resolved), and the
// Decider it returns (nil: none) is asked first for each of the flow's
// requests — before mocks, faults, WithResponder and a replay. It is the
// hook for per-request decisions that depend on the connection, such as an
// egress policy's verdict on a Host that the connection's address does not
// allow.
func WithFlowResponder(fn func(route.Flow) respond.Decider) Option {
	return func(c *config) { c.act.perFlow = append(c.act.perFlow, fn) }
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
	if d == nil && len(a.perFlow) == 0 {
		return nil
	}
	base := &relay.Act{Decide: d, Offline: a.offline(), Fallback: a.replay != nil}
	if a.replay != nil {
		base.HTTP2 = a.replay.HTTP2
	}
	if len(a.perFlow) == 0 {
		return func(route.Flow) *relay.Act { return base }
	}
	return func(f route.Flow) *relay.Act {
		var ds []respond.Decider
		for _, fn := range a.perFlow {
			if x := fn(f); x != nil {
				ds = append(ds, x)
			}
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

// WithSecrets(true) writes cookies and credentials into the JSON and HAR
// outputs as they were sent. By default those files are sanitized (see
// package sink/redact): they end up in bug reports. The human report and
// the caller's own sinks are never redacted.
func WithSecrets(keep bool) Option { return func(c *config) { c.keepSecrets = keep } }

// WithRedaction sanitizes more of the JSON and HAR outputs: header fields,
// query parameters, body regexes (see redact.New for the patterns).
func WithRedaction(r *redact.Redactor) Option { return func(c *config) { c.redactor = r } }

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
