package dns

import (
	"net/netip"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/htapod/htapod/event"
)

// TestAllowRefuses: a name that Allow denies is answered REFUSED and never
// forwarded nor looked up in the hosts file; an allowed one goes on as
// before; the event says who decided.
func TestAllowRefuses(t *testing.T) {
	const s1 = "192.0.2.53:53"
	up := &fakeUpstream{replies: map[string]func(*mdns.Msg) (*mdns.Msg, error){
		s1 + " www.lab.test.":  reply(mdns.RcodeSuccess, "www.lab.test. 300 IN A 203.0.113.10"),
		s1 + " evil.lab.test.": reply(mdns.RcodeSuccess, "evil.lab.test. 300 IN A 203.0.113.66"),
	}}
	var asked []string
	allow := func(name string, server netip.AddrPort, transport event.Proto, _ *event.Process) (bool, string) {
		asked = append(asked, name)
		return !strings.HasPrefix(name, "evil") && name != "host.htapod.internal", "deny evil.lab.test (test)"
	}
	r, log := newTestResolver(t, Config{Servers: []string{s1}, Exchange: up.exchange, Allow: allow,
		Static: map[string][]netip.Addr{"host.htapod.internal": {netip.MustParseAddr("10.0.85.254")}}})
	tests := []struct {
		name  string
		rcode int
		calls int
	}{
		{"www.lab.test.", mdns.RcodeSuccess, 1},
		{"EVIL.lab.test.", mdns.RcodeRefused, 0},
		{"host.htapod.internal.", mdns.RcodeRefused, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(up.called())
			m := ask(t, r, event.UDP, 7, tt.name, mdns.TypeA)
			if m.Rcode != tt.rcode || m.Id != 7 {
				t.Errorf("rcode %s id %d; want %s id 7", mdns.RcodeToString[m.Rcode], m.Id, mdns.RcodeToString[tt.rcode])
			}
			if got := len(up.called()) - before; got != tt.calls {
				t.Errorf("forwarded %d times; want %d", got, tt.calls)
			}
			ev := log.take(t)
			if tt.rcode == mdns.RcodeRefused && (ev.Rcode != "REFUSED" || ev.Source != "policy" || !strings.Contains(ev.Err, "deny evil.lab.test")) {
				t.Errorf("event = %+v; want REFUSED by policy with the rule", ev)
			}
		})
	}
	if strings.Join(asked, " ") != "www.lab.test evil.lab.test host.htapod.internal" {
		t.Errorf("Allow asked for %q", asked)
	}
	if !r.Resolved("WWW.lab.test", netip.MustParseAddr("203.0.113.10")) || r.Resolved("evil.lab.test", netip.MustParseAddr("203.0.113.66")) {
		t.Errorf("Resolved: www.lab.test should be known, the refused name not")
	}
	if !r.Known("www.lab.test.") || r.Known("evil.lab.test") || r.Known("never.lab.test") {
		t.Errorf("Known: only www.lab.test was answered with an address")
	}
}
