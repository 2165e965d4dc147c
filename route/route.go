// Package route decides, per new flow, where htapod sends it: forward to the
// destination (possibly rewritten), hand it to a local service of htapod's own
// (the DNS resolver), or deny it.
//
// Routers are values that compose: a Router may wrap another and decide only
// the destinations it knows about, passing the rest on.
package route

import (
	"net/netip"

	"github.com/htapod/htapod/event"
)

// Action is what to do with a flow.
type Action int

// Actions.
const (
	// Forward dials Decision.Dst on the host side and relays.
	Forward Action = iota
	// Local hands the flow to one of htapod's own services (Decision.Service).
	Local
	// Deny refuses the flow: TCP gets a RST, UDP datagrams are dropped.
	Deny
)

// Service names a local service for Local decisions.
type Service string

// Local services.
const (
	// DNS is htapod's built-in resolver.
	DNS Service = "dns"
)

// Decision is a router's answer for one flow.
type Decision struct {
	Action Action
	// Dst is where to connect for Forward; the flow's own destination
	// unless a mapping rewrote it.
	Dst netip.AddrPort
	// Service is set for Local.
	Service Service
}

// Router decides flows. Route is called once per new flow, concurrently.
type Router interface {
	Route(proto event.Proto, dst netip.AddrPort) Decision
}

// Func adapts a function to a Router.
type Func func(proto event.Proto, dst netip.AddrPort) Decision

// Route implements Router.
func (f Func) Route(proto event.Proto, dst netip.AddrPort) Decision { return f(proto, dst) }

// Direct forwards every flow to its own destination. It is the end of most
// router chains.
var Direct Router = Func(func(_ event.Proto, dst netip.AddrPort) Decision {
	return Decision{Action: Forward, Dst: dst}
})

// Rule rewrites destinations that match From. A zero From port matches every
// port; a zero To port keeps the original port.
type Rule struct {
	From, To netip.AddrPort
}

// Map rewrites destinations by rules and passes everything else to next
// (Direct when nil). The first matching rule wins. It is how htapod's
// --map-host and --map work; the seed called it MatchAddress.
func Map(rules []Rule, next Router) Router {
	if next == nil {
		next = Direct
	}
	return Func(func(proto event.Proto, dst netip.AddrPort) Decision {
		for _, r := range rules {
			if r.From.Addr() != dst.Addr() || (r.From.Port() != 0 && r.From.Port() != dst.Port()) {
				continue
			}
			port := r.To.Port()
			if port == 0 {
				port = dst.Port()
			}
			return Decision{Action: Forward, Dst: netip.AddrPortFrom(r.To.Addr(), port)}
		}
		return next.Route(proto, dst)
	})
}

// MatchAddress maps every port of one inner address to the same port of
// target — the seed's MatchAddress, e.g. 10.10.10.10 → 127.0.0.1.
func MatchAddress(inner, target netip.Addr, next Router) Router {
	return Map([]Rule{{From: netip.AddrPortFrom(inner, 0), To: netip.AddrPortFrom(target, 0)}}, next)
}

// LocalDNS sends port 53 of the resolver addresses to htapod's resolver and
// refuses every other port of them (they are virtual: nothing else listens
// there). Other destinations go to next.
func LocalDNS(resolvers []netip.Addr, next Router) Router {
	if next == nil {
		next = Direct
	}
	return Func(func(proto event.Proto, dst netip.AddrPort) Decision {
		for _, a := range resolvers {
			if dst.Addr() == a {
				if dst.Port() == 53 {
					return Decision{Action: Local, Service: DNS, Dst: dst}
				}
				return Decision{Action: Deny, Dst: dst}
			}
		}
		return next.Route(proto, dst)
	})
}
