package lab

import (
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestZoneAnswers checks the zone's answers without a network.
func TestZoneAnswers(t *testing.T) {
	s, err := newDNSServer()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		qtype     uint16
		wantRcode int
		want      []string // answer records' data, in order
	}{
		{"www.lab.test.", dns.TypeA, dns.RcodeSuccess, []string{"203.0.113.10"}},
		{"WWW.Lab.Test.", dns.TypeAAAA, dns.RcodeSuccess, []string{"2001:db8::10"}},
		{"api.lab.test.", dns.TypeA, dns.RcodeSuccess, []string{"203.0.113.11"}},
		{"alias.lab.test.", dns.TypeA, dns.RcodeSuccess, []string{"www.lab.test.", "203.0.113.10"}},
		{"alias.lab.test.", dns.TypeCNAME, dns.RcodeSuccess, []string{"www.lab.test."}},
		{"lab.test.", dns.TypeMX, dns.RcodeSuccess, []string{"10 mail.lab.test."}},
		{"lab.test.", dns.TypeTXT, dns.RcodeSuccess, []string{`"v=lab1 htapod sealed test zone"`}},
		{"_http._tcp.lab.test.", dns.TypeSRV, dns.RcodeSuccess, []string{"0 5 80 www.lab.test."}},
		{"10.113.0.203.in-addr.arpa.", dns.TypePTR, dns.RcodeSuccess, []string{"www.lab.test."}},
		{"api.lab.test.", dns.TypeAAAA, dns.RcodeSuccess, nil}, // NODATA
		{"fail.lab.test.", dns.TypeA, dns.RcodeServerFailure, nil},
		{"nope.lab.test.", dns.TypeA, dns.RcodeNameError, nil},
		{"hosts-only.lab.test.", dns.TypeA, dns.RcodeNameError, nil},
		{"99.113.0.203.in-addr.arpa.", dns.TypePTR, dns.RcodeNameError, nil},
		{"example.com.", dns.TypeA, dns.RcodeRefused, nil},
	}
	for _, tt := range tests {
		q := new(dns.Msg).SetQuestion(tt.name, tt.qtype)
		m := s.answer(q)
		var got []string
		for _, rr := range m.Answer {
			got = append(got, strings.TrimPrefix(rr.String(), rr.Header().String()))
		}
		if m.Rcode != tt.wantRcode || !slices.Equal(got, tt.want) {
			t.Errorf("%s %s = %s %q; want %s %q", tt.name, dns.TypeToString[tt.qtype],
				dns.RcodeToString[m.Rcode], got, dns.RcodeToString[tt.wantRcode], tt.want)
		}
	}
}

// TestDNSTransports checks truncation over UDP, the full answer over TCP
// and the query counter, against the server running in a lab.
func TestDNSTransports(t *testing.T) {
	l := New(t)
	before := l.DNS().Queries()
	exchange := func(network string) *dns.Msg {
		t.Helper()
		nc, err := l.Dial(network, net.JoinHostPort(DNS4, "53"))
		if err != nil {
			t.Fatal(err)
		}
		c := &dns.Conn{Conn: nc, UDPSize: 1232}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		q := new(dns.Msg).SetQuestion(BigName+".", dns.TypeTXT)
		q.SetEdns0(1232, false)
		if err := c.WriteMsg(q); err != nil {
			t.Fatal(err)
		}
		m, err := c.ReadMsg()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := exchange("udp"); !m.Truncated || len(m.Answer) >= len(BigTXT()) {
		t.Errorf("UDP answer for %s: TC=%v with %d records; want TC and fewer than %d", BigName, m.Truncated, len(m.Answer), len(BigTXT()))
	}
	if m := exchange("tcp"); m.Truncated || len(m.Answer) != len(BigTXT()) {
		t.Errorf("TCP answer for %s: TC=%v with %d records; want all %d", BigName, m.Truncated, len(m.Answer), len(BigTXT()))
	}
	if got := l.DNS().Queries() - before; got != 2 {
		t.Errorf("Queries() grew by %d; want 2", got)
	}
}

// TestUserPath checks the PATH given to the unprivileged user.
func TestUserPath(t *testing.T) {
	got := userPath("/root/.pyenv/shims:/usr/bin:relative:/nonexistent:/usr/bin:/bin")
	want := "/usr/bin:/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/sbin"
	if got != want {
		t.Errorf("userPath = %q; want %q", got, want)
	}
}

// TestPattern checks the /bytes content.
func TestPattern(t *testing.T) {
	if got, want := string(Pattern(25)), "000000 lab\n000001 lab\n000"; got != want {
		t.Errorf("Pattern(25) = %q; want %q", got, want)
	}
	if got := len(Pattern(1 << 20)); got != 1<<20 {
		t.Errorf("len(Pattern(1<<20)) = %d", got)
	}
}
