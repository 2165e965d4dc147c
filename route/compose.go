package route

import "net/netip"

// Rule rewrites destinations that match From. A zero From port matches every
// port; a zero To port keeps the original port.
type Rule struct {
	From, To netip.AddrPort
}

// Map rewrites destinations by rules (the first match wins) and passes the
// flow, rewritten or not, to next (Direct when nil), which decides the
// action. It is how htapod's --map-host and --map work.
func Map(rules []Rule, next Router) Router {
	if next == nil {
		next = Direct
	}
	return Func(func(f Flow) Decision {
		for _, r := range rules {
			if r.From.Addr() != f.Dst.Addr() || (r.From.Port() != 0 && r.From.Port() != f.Dst.Port()) {
				continue
			}
			port := r.To.Port()
			if port == 0 {
				port = f.Dst.Port()
			}
			f.Dst = netip.AddrPortFrom(r.To.Addr(), port)
			break
		}
		return next.Route(f)
	})
}

// MatchAddress maps every port of one inner address to the same port of
// target — the seed's MatchAddress, e.g. 10.10.10.10 → 127.0.0.1 — and
// lets next decide the action.
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
	return Func(func(f Flow) Decision {
		for _, a := range resolvers {
			if f.Dst.Addr() == a {
				if f.Dst.Port() == 53 {
					return Decision{Action: Local, Service: DNS, Dst: f.Dst}
				}
				return Decision{Action: Deny, Dst: f.Dst}
			}
		}
		return next.Route(f)
	})
}

// PortRouter decides by destination port: one action for most ports and
// others for listed ones (the seed's ByPortTCPRouter). Build it with
// ByPort and its chained methods before use; it must not be changed while
// in use.
type PortRouter struct {
	def   Action
	ports map[uint16]Action
}

// ByPort returns a PortRouter whose ports all get def.
func ByPort(def Action) *PortRouter { return &PortRouter{def: def, ports: map[uint16]Action{}} }

// Set gives the ports action a.
func (p *PortRouter) Set(a Action, ports ...uint16) *PortRouter {
	for _, port := range ports {
		p.ports[port] = a
	}
	return p
}

// Plain relays the ports without TLS interception (Forward).
func (p *PortRouter) Plain(ports ...uint16) *PortRouter { return p.Set(Forward, ports...) }

// Deny refuses the ports.
func (p *PortRouter) Deny(ports ...uint16) *PortRouter { return p.Set(Deny, ports...) }

// Passthrough relays the ports without looking inside.
func (p *PortRouter) Passthrough(ports ...uint16) *PortRouter { return p.Set(Passthrough, ports...) }

// Route implements Router.
func (p *PortRouter) Route(f Flow) Decision {
	a, ok := p.ports[f.Dst.Port()]
	if !ok {
		a = p.def
	}
	return Decision{Action: a, Dst: f.Dst}
}

// AllowNames lets flows to the given DNS names (exactly, or below a name
// given as ".example.com") go on to next and denies every other flow —
// also flows to addresses the command did not resolve by name.
func AllowNames(names []string, next Router) Router {
	if next == nil {
		next = Direct
	}
	return Func(func(f Flow) Decision {
		if nameAllowed(f.Name, names) {
			return next.Route(f)
		}
		return Decision{Action: Deny, Dst: f.Dst}
	})
}

func nameAllowed(name string, allowed []string) bool {
	if name == "" {
		return false
	}
	for _, a := range allowed {
		if a == name || (len(a) > 1 && a[0] == '.' && (name == a[1:] || hasSuffix(name, a))) {
			return true
		}
	}
	return false
}

func hasSuffix(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}
