package summary

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/htapod/htapod/event"
)

func TestSummary(t *testing.T) {
	s := New()
	dst := netip.MustParseAddrPort("203.0.113.10:80")
	src := netip.MustParseAddrPort("10.0.85.2:40000")
	now := time.Now()
	s.Handle(&event.DNS{Name: "www.lab.test", Type: "A", Rcode: "NOERROR"})
	s.Handle(&event.FlowOpen{ID: 1, Proto: event.TCP, Src: src, Dst: dst, Name: "www.lab.test", Time: now})
	// The request names the address; it still counts for the flow's host.
	s.Handle(&event.HTTP{FlowID: 1, Phase: event.PhaseDone, Proto: "HTTP/1.1", Authority: "203.0.113.10"})
	s.Handle(&event.Flow{ID: 1, Proto: event.TCP, Src: src, Dst: dst, Name: "www.lab.test", Up: 100, Down: 2000, Start: now, Ended: now, End: event.Closed})
	s.Handle(&event.TLS{SNI: "bad.lab.test", Server: netip.MustParseAddrPort("203.0.113.11:443"), Err: "upstream: x509"})
	var b strings.Builder
	if err := s.Write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("summary has %d lines; want a title, a header and 2 hosts:\n%s", len(lines), out)
	}
	www := strings.Fields(lines[2])
	if want := []string{"www.lab.test", "203.0.113.10", "tcp/80", "dns,http/1.1,tcp", "1", "1", "100", "B", "2.0", "KB", "0"}; strings.Join(www, " ") != strings.Join(want, " ") {
		t.Errorf("www row = %q; want %q", www, want)
	}
	if bad := strings.Fields(lines[3]); bad[0] != "bad.lab.test" || bad[len(bad)-1] != "1" {
		t.Errorf("bad row = %q; want bad.lab.test with 1 TLS failure", bad)
	}
	if s.Flows() != 1 {
		t.Errorf("Flows() = %d; want 1", s.Flows())
	}
}

// TestSummaryFiltered: with CountAll's handler seeing every event and the
// Summary only what a filter kept, the title says what was kept of what.
func TestSummaryFiltered(t *testing.T) {
	dst := netip.MustParseAddrPort("203.0.113.10:443")
	flow := func(id uint64) *event.Flow {
		return &event.Flow{ID: id, Proto: event.TCP, Dst: dst, Name: "www.lab.test", End: event.Closed}
	}
	done := func(id uint64) *event.HTTP {
		return &event.HTTP{FlowID: id, Phase: event.PhaseDone, Proto: "h2", Authority: "www.lab.test"}
	}
	tests := []struct {
		name   string
		filter bool
		want   string
	}{
		{"no filter", false, "htapod summary: 1 flows, 1 hosts\n"},
		{"filter", true, "htapod summary: 1 flows, 1 hosts (filtered: 1 of 3 flows, 1 of 4 requests)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New()
			all := func(event.Event) {}
			if tt.filter {
				all = s.CountAll()
			}
			for id := uint64(1); id <= 3; id++ {
				for _, e := range []event.Event{done(id), flow(id)} {
					all(e)
				}
			}
			all(&event.HTTP{FlowID: 1, Phase: event.PhaseRequest})
			all(done(1))
			s.Handle(done(1)) // the filter kept flow 1 and one of its requests
			s.Handle(flow(1))
			var b strings.Builder
			if err := s.Write(&b); err != nil {
				t.Fatal(err)
			}
			if title, _, _ := strings.Cut(b.String(), "HOST"); title != tt.want {
				t.Errorf("title = %q; want %q", title, tt.want)
			}
		})
	}
}

// TestSummaryBounded: a run that looks up and connects to more names
// than the table keeps has the rest counted in one last row, and a host
// reached at many addresses lists the first maxSet and "…": a scanner's
// or a crawler's summary holds bounded memory and stays readable.
func TestSummaryBounded(t *testing.T) {
	s := New()
	now := time.Now()
	src := netip.MustParseAddrPort("10.0.85.2:40000")
	const names = maxRows + 500
	for i := range names {
		name := fmt.Sprintf("h%d.lab.test", i)
		dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, byte(i >> 8), byte(i)}), 80)
		s.Handle(&event.DNS{Name: name, Type: "A", Rcode: "NOERROR"})
		s.Handle(&event.Flow{ID: uint64(i), Proto: event.TCP, Src: src, Dst: dst, Name: name, Up: 1, Down: 1, Start: now, Ended: now})
	}
	if len(s.hosts) != maxRows+1 {
		t.Fatalf("%d rows kept for %d hosts; want %d and one for the others", len(s.hosts), names, maxRows)
	}
	var b strings.Builder
	if err := s.Write(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if !strings.Contains(lines[0], fmt.Sprintf("%d flows, %d hosts and more", names, maxRows)) {
		t.Errorf("title %q; want %d flows and %d hosts and more", lines[0], names, maxRows)
	}
	row := lines[len(lines)-1]
	if !strings.HasPrefix(row, otherHosts) {
		t.Fatalf("last row %q; want the other hosts", row)
	}
	// 500 flows to 500 addresses: 32 listed.
	if !strings.Contains(row, ",…") || strings.Count(row, "203.0.") != maxSet || !strings.Contains(row, " 500 ") {
		t.Errorf("other hosts' row %q; want %d addresses, \"…\" and 500 flows", row, maxSet)
	}
}
