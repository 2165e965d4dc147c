package htapod

import (
	"net/netip"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/policy"
	"github.com/htapod/htapod/route"
)

// router is the run's routing chain: the resolver's addresses, then the
// policy (enf, when there is one), then the user's mappings, then straight
// to the destination.
func (r *Runner) router(enf *policy.Enforcer) route.Router {
	rules := append([]route.Rule(nil), r.cfg.rules...)
	for _, a := range r.cfg.hostMaps {
		lo := netip.AddrFrom4([4]byte{127, 0, 0, 1})
		if a.Is6() {
			lo = netip.IPv6Loopback()
		}
		rules = append(rules, route.Rule{From: netip.AddrPortFrom(a, 0), To: netip.AddrPortFrom(lo, 0)})
	}
	return r.cfg.act.offlineRouter(route.LocalDNS([]netip.Addr{ResolverAddr4, ResolverAddr6}, withEnforcer(enf, route.Map(rules, r.userRouter()))))
}

// userRouter dispatches to the TCP or UDP router.
func (r *Runner) userRouter() route.Router {
	def := route.Router(route.ByPort(route.ForwardWithTLS))
	if !r.cfg.intercept {
		def = route.ByPort(route.Forward)
	}
	tcp, udp := r.cfg.tcpRouter, r.cfg.udpRouter
	if tcp == nil {
		tcp = def
	}
	if udp == nil {
		udp = def
	}
	return route.Func(func(f route.Flow) route.Decision {
		if f.Proto == event.UDP {
			return udp.Route(f)
		}
		return tcp.Route(f)
	})
}
