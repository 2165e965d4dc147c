package route

import (
	"net/netip"
	"testing"

	"github.com/htapod/htapod/event"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestRouters(t *testing.T) {
	resolver := netip.MustParseAddr("10.0.85.1")
	r := LocalDNS([]netip.Addr{resolver},
		Map([]Rule{
			{From: ap("192.0.2.1:443"), To: ap("127.0.0.1:8443")},
		}, MatchAddress(netip.MustParseAddr("10.10.10.10"), netip.MustParseAddr("127.0.0.1"),
			ByPort(ForwardWithTLS).Plain(80).Deny(25).Passthrough(22))))
	tests := []struct {
		name string
		dst  string
		want Decision
	}{
		{"dns to resolver", "10.0.85.1:53", Decision{Action: Local, Service: DNS, Dst: ap("10.0.85.1:53")}},
		{"other port of resolver", "10.0.85.1:80", Decision{Action: Deny, Dst: ap("10.0.85.1:80")}},
		{"address and port rule", "192.0.2.1:443", Decision{Action: ForwardWithTLS, Dst: ap("127.0.0.1:8443")}},
		{"address rule, other port passes", "192.0.2.1:80", Decision{Action: Forward, Dst: ap("192.0.2.1:80")}},
		{"match address keeps port", "10.10.10.10:8080", Decision{Action: ForwardWithTLS, Dst: ap("127.0.0.1:8080")}},
		{"match address then by port", "10.10.10.10:80", Decision{Action: Forward, Dst: ap("127.0.0.1:80")}},
		{"denied port", "203.0.113.10:25", Decision{Action: Deny, Dst: ap("203.0.113.10:25")}},
		{"passthrough port", "203.0.113.10:22", Decision{Action: Passthrough, Dst: ap("203.0.113.10:22")}},
		{"default", "203.0.113.10:443", Decision{Action: ForwardWithTLS, Dst: ap("203.0.113.10:443")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.Route(Flow{Proto: event.TCP, Dst: ap(tt.dst)})
			if got != tt.want {
				t.Errorf("Route(%s) = %+v; want %+v", tt.dst, got, tt.want)
			}
		})
	}
}

func TestRewrite(t *testing.T) {
	r := Rewrite(ap("127.0.0.1:0"), ByPort(Forward))
	if got, want := r.Route(Flow{Dst: ap("198.51.100.7:8080")}), (Decision{Action: Forward, Dst: ap("127.0.0.1:8080")}); got != want {
		t.Errorf("Rewrite keeps port: Route = %+v; want %+v", got, want)
	}
	r = Rewrite(ap("127.0.0.1:9000"), nil)
	if got, want := r.Route(Flow{Dst: ap("198.51.100.7:8080")}), (Decision{Action: ForwardWithTLS, Dst: ap("127.0.0.1:9000")}); got != want {
		t.Errorf("Rewrite to port: Route = %+v; want %+v", got, want)
	}
}

func TestAllowNames(t *testing.T) {
	r := AllowNames([]string{"api.lab.test", ".cdn.lab.test"}, nil)
	tests := []struct {
		name   string
		action Action
	}{
		{"api.lab.test", ForwardWithTLS},
		{"cdn.lab.test", ForwardWithTLS},
		{"img.cdn.lab.test", ForwardWithTLS},
		{"www.lab.test", Deny},
		{"xcdn.lab.test", Deny},
		{"", Deny},
	}
	for _, tt := range tests {
		if got := r.Route(Flow{Dst: ap("203.0.113.10:443"), Name: tt.name}); got.Action != tt.action {
			t.Errorf("AllowNames: Route(name %q).Action = %v; want %v", tt.name, got.Action, tt.action)
		}
	}
}
