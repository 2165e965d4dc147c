package policy

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/htapod/htapod/event"
)

func TestReportWriteTo(t *testing.T) {
	var r Report
	var b strings.Builder
	r.WriteTo(&b)
	if b.Len() != 0 || r.Denied() {
		t.Fatalf("empty report wrote %q", b.String())
	}
	curl := &event.Process{PID: 41, Exe: "/usr/bin/curl", Argv: []string{"curl", "http://203.0.113.20:7/"},
		Parents: []event.Ancestor{{PID: 40, Exe: "/usr/bin/dash", Argv: []string{"sh"}}}}
	dst := netip.MustParseAddrPort("203.0.113.20:7")
	for i := 0; i < 2; i++ {
		r.Handle(&event.Policy{Stage: event.StageConnect, Proto: event.TCP, Dst: dst, Denied: true, Rule: "deny 203.0.113.0/24 (--deny)", Process: curl})
	}
	r.Handle(&event.Policy{Stage: event.StageDNS, Proto: event.UDP, Dst: netip.MustParseAddrPort("10.0.85.1:53"), Name: "evil.test", Denied: true, Rule: "no rule matched"})
	r.Handle(&event.Policy{Stage: event.StageTLS, Fronting: "www.lab.test", Name: "x.test"}) // reported, not denied
	r.Handle(&event.Flow{})
	b.Reset()
	r.WriteTo(&b)
	want := `policy: denied 2 destinations:
  tcp 203.0.113.20:7 at connect (2×) by deny 203.0.113.0/24 (--deny) from sh → curl http://203.0.113.20:7/ (pid 41)
  dns evil.test at dns (1×) by no rule matched from an unknown process
`
	if b.String() != want {
		t.Errorf("report =\n%s\nwant\n%s", b.String(), want)
	}
}
