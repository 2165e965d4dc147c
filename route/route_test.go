package route

import (
	"net/netip"
	"testing"

	"github.com/htapod/htapod/event"
)

func TestRouters(t *testing.T) {
	resolver := netip.MustParseAddr("10.0.85.1")
	r := LocalDNS([]netip.Addr{resolver},
		Map([]Rule{
			{From: netip.MustParseAddrPort("192.0.2.1:443"), To: netip.MustParseAddrPort("127.0.0.1:8443")},
		}, MatchAddress(netip.MustParseAddr("10.10.10.10"), netip.MustParseAddr("127.0.0.1"), nil)))
	tests := []struct {
		name string
		dst  string
		want Decision
	}{
		{"dns to resolver", "10.0.85.1:53", Decision{Action: Local, Service: DNS, Dst: netip.MustParseAddrPort("10.0.85.1:53")}},
		{"other port of resolver", "10.0.85.1:80", Decision{Action: Deny, Dst: netip.MustParseAddrPort("10.0.85.1:80")}},
		{"address and port rule", "192.0.2.1:443", Decision{Action: Forward, Dst: netip.MustParseAddrPort("127.0.0.1:8443")}},
		{"address rule other port passes", "192.0.2.1:80", Decision{Action: Forward, Dst: netip.MustParseAddrPort("192.0.2.1:80")}},
		{"match address keeps port", "10.10.10.10:8080", Decision{Action: Forward, Dst: netip.MustParseAddrPort("127.0.0.1:8080")}},
		{"everything else direct", "203.0.113.10:80", Decision{Action: Forward, Dst: netip.MustParseAddrPort("203.0.113.10:80")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.Route(event.TCP, netip.MustParseAddrPort(tt.dst))
			if got != tt.want {
				t.Errorf("Route(%s) = %+v; want %+v", tt.dst, got, tt.want)
			}
		})
	}
}
