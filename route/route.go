// Package route decides, per new flow, what htapod does with it: relay it
// with TLS interception (ForwardWithTLS, the default), relay it without
// (Forward), relay it without looking inside at all (Passthrough), hand it
// to one of htapod's own services (Local: the DNS resolver), or refuse it
// (Deny) — and where it goes, since a router may rewrite the destination.
//
// Routers are values that compose: MatchAddress, Map and LocalDNS decide
// the destinations they know and pass the rest to the next router; ByPort
// decides by port and ends a chain; Func makes any function a router.
//
//	route.MatchAddress(netip.MustParseAddr("10.10.10.10"), netip.MustParseAddr("127.0.0.1"),
//		route.ByPort(route.ForwardWithTLS).Plain(80).Deny(25))
package route

import (
	"net/netip"

	"github.com/htapod/htapod/event"
)

// Action is what to do with a flow.
type Action int

// Actions.
const (
	// ForwardWithTLS relays the flow to Decision.Dst and intercepts TLS
	// when the flow starts with a ClientHello, so the dissectors see the
	// plaintext. It is the default.
	ForwardWithTLS Action = iota
	// Forward relays the flow to Decision.Dst and dissects what is
	// plaintext; TLS is relayed untouched (reported by its ClientHello).
	Forward
	// Passthrough relays the bytes and looks at nothing: no interception,
	// no dissection, only the flow line.
	Passthrough
	// Deny refuses the flow: TCP gets a RST, UDP datagrams are dropped.
	Deny
	// Local hands the flow to one of htapod's own services (Decision.Service).
	Local
)

func (a Action) String() string {
	switch a {
	case ForwardWithTLS:
		return "forward-with-tls"
	case Forward:
		return "forward"
	case Passthrough:
		return "passthrough"
	case Deny:
		return "deny"
	case Local:
		return "local"
	}
	return "unknown"
}

// Service names a local service for Local decisions.
type Service string

// Local services.
const (
	// DNS is htapod's built-in resolver.
	DNS Service = "dns"
)

// Flow is what a router knows of a flow.
//
// A router is asked first at the SYN or first datagram, with SNI and Host
// empty. It may be asked again for the same flow when a name appears in
// it — the TLS ClientHello (SNI set), an HTTP request (Host set) — and
// then only a Deny counts: it ends the flow there (the handshake fails
// with an alert, the request is refused).
type Flow struct {
	// ID is the flow's id, the one its events carry (0 when not known).
	ID       uint64
	Proto    event.Proto
	Src, Dst netip.AddrPort
	// Name is the DNS name the command resolved to Dst, or "".
	Name string
	// SNI is the server name of the flow's TLS ClientHello, at that stage.
	SNI string
	// Host is an HTTP request's Host (or :authority), at that stage.
	Host string
	// Process opened the flow; nil when htapod did not look it up.
	Process *event.Process
}

// Decision is a router's answer for one flow.
type Decision struct {
	Action Action
	// Dst is where to connect; the flow's own destination unless a
	// router rewrote it.
	Dst netip.AddrPort
	// Service is set for Local.
	Service Service
}

// Router decides flows. Route is called once per new flow, concurrently,
// before anything is sent upstream, and again at the later stages Flow
// describes; it must not block.
type Router interface {
	Route(f Flow) Decision
}

// Func adapts a function to a Router.
type Func func(f Flow) Decision

// Route implements Router.
func (fn Func) Route(f Flow) Decision { return fn(f) }

// Direct forwards every flow to its own destination with TLS
// interception. It is the end of most router chains.
var Direct Router = Func(func(f Flow) Decision {
	return Decision{Action: ForwardWithTLS, Dst: f.Dst}
})

// Rewrite sends flows to dst instead (a zero port keeps the flow's port)
// and lets next decide the action; next nil means Direct.
func Rewrite(dst netip.AddrPort, next Router) Router {
	if next == nil {
		next = Direct
	}
	return Func(func(f Flow) Decision {
		port := dst.Port()
		if port == 0 {
			port = f.Dst.Port()
		}
		f.Dst = netip.AddrPortFrom(dst.Addr(), port)
		d := next.Route(f)
		if d.Dst == (netip.AddrPort{}) {
			d.Dst = f.Dst
		}
		return d
	})
}
