package policy

import (
	"errors"
	"fmt"
	"math/rand"
	"net/netip"
	"strings"
	"testing"

	"github.com/htapod/htapod/event"
)

// mustParse builds a policy from file text.
func mustParse(tb testing.TB, text string) *Policy {
	tb.Helper()
	p := New()
	if err := p.Parse("p", strings.NewReader(text)); err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	return p
}

func q(proto event.Proto, addr string, port uint16, name string) Query {
	return Query{Proto: proto, Addr: netip.MustParseAddr(addr), Port: port, Name: name}
}

func TestDecide(t *testing.T) {
	p := mustParse(t, `
# comments and blank lines are skipped
deny evil.lab.test        # before the glob that would allow it
allow *.lab.test
allow tcp:203.0.113.20:7
deny udp:203.0.113.0/24:53
allow 203.0.113.0/24
allow [2001:db8::]/32:443
`)
	tests := []struct {
		name string
		q    Query
		want bool
		rule string // "" for the default
	}{
		{"glob allows", q(event.TCP, "203.0.113.10", 443, "www.lab.test"), true, "allow *.lab.test (p:4)"},
		{"name case and dot", q(event.TCP, "198.51.100.1", 443, "WWW.lab.test."), true, "allow *.lab.test (p:4)"},
		{"earlier deny wins", q(event.TCP, "203.0.113.10", 443, "evil.lab.test"), false, "deny evil.lab.test (p:3)"},
		{"ip and port", q(event.TCP, "203.0.113.20", 7, ""), true, "allow tcp:203.0.113.20:7 (p:5)"},
		{"udp deny before range", q(event.UDP, "203.0.113.53", 53, ""), false, "deny udp:203.0.113.0/24:53 (p:6)"},
		{"tcp 53 falls to range", q(event.TCP, "203.0.113.53", 53, ""), true, "allow 203.0.113.0/24 (p:7)"},
		{"v6 port", q(event.TCP, "2001:db8::10", 443, ""), true, "allow [2001:db8::]/32:443 (p:8)"},
		{"v6 other port", q(event.TCP, "2001:db8::10", 80, ""), false, ""},
		{"v4-mapped", q(event.TCP, "::ffff:203.0.113.9", 1, ""), true, "allow 203.0.113.0/24 (p:7)"},
		{"no match", q(event.TCP, "198.51.100.1", 80, "other.test"), false, ""},
		{"glob needs a label", q(event.TCP, "198.51.100.1", 80, "lab.test"), false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := p.Decide(tt.q)
			rule := ""
			if v.Rule != nil {
				rule = v.Rule.Describe()
			}
			if v.Allow != tt.want || rule != tt.rule {
				t.Errorf("Decide(%+v) = %v by %q; want %v by %q", tt.q, v.Allow, rule, tt.want, tt.rule)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	tcp := q(event.TCP, "198.51.100.1", 80, "x.test")
	if v := (*Policy)(nil).Decide(tcp); !v.Allow {
		t.Errorf("nil policy denies")
	}
	deny := mustParse(t, "deny other.test\n")
	if v := deny.Decide(tcp); !v.Allow || v.Rule != nil {
		t.Errorf("deny list: unmatched = %+v; want allowed by default", v)
	}
	allow := mustParse(t, "allow other.test\n")
	if v := allow.Decide(tcp); v.Allow || !strings.Contains(v.Reason(), "allow rules given") {
		t.Errorf("allow list: unmatched = %+v (%s); want denied by default", v, v.Reason())
	}
}

func TestDecideName(t *testing.T) {
	p := mustParse(t, `
deny tcp:evil.lab.test:80
deny bad.lab.test
allow www.lab.test:443
allow *.lab.test
allow 203.0.113.0/24
`)
	tests := []struct {
		name string
		want bool
	}{
		{"www.lab.test", true},  // allowed on a port: the name resolves
		{"evil.lab.test", true}, // denied on one port only: the glob allows it
		{"bad.lab.test", false}, // denied everywhere
		{"other.test", false},   // unmatched (address rules do not count)
		{"x.y.lab.test.", true},
	}
	for _, tt := range tests {
		if v := p.DecideName(tt.name); v.Allow != tt.want {
			t.Errorf("DecideName(%q) = %v (%s); want %v", tt.name, v.Allow, v.Reason(), tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		text string
		want string
	}{
		{"allow *.lab.test\nblock x.test\n", "f.txt:2:1: unknown action \"block\" (want allow or deny)"},
		{"allow\n", "f.txt:1:6: allow needs a pattern"},
		{"  deny   203.0.113.7/24\n", "f.txt:1:10: bad IPv4 address \"203.0.113.7/24\": host bits set (did you mean 203.0.113.0/24?)"},
		{"allow a.test tcp:b.test:99999\n", "f.txt:1:25: bad port \"99999\" (want 1-65535)"},
		{"\n\n\tallow w*.test # x\n", "f.txt:3:9: '*' may only be the whole first label (*.example.com)"},
	}
	for _, tt := range tests {
		err := New().Parse("f.txt", strings.NewReader(tt.text))
		var se *SyntaxError
		if !errors.As(err, &se) || err.Error() != tt.want {
			t.Errorf("Parse(%q) = %v; want %s", tt.text, err, tt.want)
		}
	}
}

func TestParseMany(t *testing.T) {
	p := mustParse(t, "allow a.test b.test:80 # c.test\ndeny udp:*\n")
	var got []string
	for _, r := range p.Rules() {
		got = append(got, r.Describe())
	}
	want := "allow a.test (p:1)|allow b.test:80 (p:1)|deny udp:* (p:2)"
	if strings.Join(got, "|") != want {
		t.Errorf("rules = %q; want %q", strings.Join(got, "|"), want)
	}
}

// linear is the reference: the first rule that matches, by a scan.
func linear(p *Policy, q Query) Verdict {
	name := normName(q.Name)
	for i := range p.rules {
		r := &p.rules[i]
		pat := r.Pattern
		if (pat.Proto != "" && pat.Proto != q.Proto) || (pat.Port != 0 && pat.Port != q.Port) {
			continue
		}
		if (pat.Host != "" && matchHost(pat.Host, name)) || (pat.Prefix.IsValid() && pat.Prefix.Contains(q.Addr.Unmap())) {
			return Verdict{Allow: r.Action == Allow, Rule: r}
		}
	}
	return Verdict{Allow: !p.hasAllow}
}

// randomPolicy writes n rules over a small world of names and addresses,
// so that rules overlap often.
func randomPolicy(rng *rand.Rand, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString([]string{"allow ", "deny "}[rng.Intn(2)])
		b.WriteString([]string{"", "tcp:", "udp:"}[rng.Intn(3)])
		port := []string{"", ":53", ":80", ":443"}[rng.Intn(4)]
		switch rng.Intn(4) {
		case 0:
			fmt.Fprintf(&b, "h%d.d%d.test%s", rng.Intn(5), rng.Intn(3), port)
		case 1:
			fmt.Fprintf(&b, "*.d%d.test%s", rng.Intn(3), port)
		case 2:
			fmt.Fprintf(&b, "203.0.%d.0/%d%s", 113+rng.Intn(2), 24, port)
		default:
			fmt.Fprintf(&b, "203.0.113.%d%s", rng.Intn(8), port)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestDecideMatchesLinearScan(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for round := 0; round < 50; round++ {
		p := mustParse(t, randomPolicy(rng, 1+rng.Intn(40)))
		for i := 0; i < 200; i++ {
			qq := Query{
				Proto: []event.Proto{event.TCP, event.UDP}[rng.Intn(2)],
				Addr:  netip.AddrFrom4([4]byte{203, 0, byte(113 + rng.Intn(2)), byte(rng.Intn(8))}),
				Port:  []uint16{53, 80, 443, 8080}[rng.Intn(4)],
				Name:  []string{"", fmt.Sprintf("h%d.d%d.test", rng.Intn(5), rng.Intn(3))}[rng.Intn(2)],
			}
			got, want := p.Decide(qq), linear(p, qq)
			if got != want {
				t.Fatalf("round %d: Decide(%+v) = %+v; linear scan = %+v", round, qq, got, want)
			}
		}
	}
}

// BenchmarkDecide1000 is one decision against a 1,000-rule policy (a
// flow's connect, or one HTTP request's Host).
func BenchmarkDecide1000(b *testing.B) {
	var text strings.Builder
	for i := 0; i < 1000; i++ {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&text, "allow host%d.example%d.test:443\n", i, i%17)
		case 1:
			fmt.Fprintf(&text, "allow *.zone%d.test\n", i)
		default:
			fmt.Fprintf(&text, "deny 198.%d.%d.0/24\n", i%256, (i/256)%256)
		}
	}
	p := mustParse(b, text.String())
	qq := q(event.TCP, "203.0.113.10", 443, "www.api.lab.test")
	b.ReportAllocs()
	for b.Loop() {
		if p.Decide(qq).Allow {
			b.Fatal("allowed")
		}
	}
}

func TestHostsMayDeny(t *testing.T) {
	tests := []struct {
		policy string
		q      Query
		want   bool
	}{
		{"allow 203.0.113.0/24\n", q(event.TCP, "203.0.113.10", 80, ""), false},
		{"deny evil.test\nallow 203.0.113.0/24\n", q(event.TCP, "203.0.113.10", 80, ""), true},
		{"allow 203.0.113.0/24\ndeny evil.test\n", q(event.TCP, "203.0.113.10", 80, ""), false},
		{"deny tcp:evil.test:443\nallow 203.0.113.0/24\n", q(event.TCP, "203.0.113.10", 80, ""), false},
		{"allow *.lab.test\n", q(event.TCP, "203.0.113.10", 80, "www.lab.test"), true},
		{"deny evil.test\n", q(event.TCP, "203.0.113.10", 80, ""), true},
		{"deny 198.51.100.0/24\n", q(event.TCP, "203.0.113.10", 80, ""), false},
	}
	for _, tt := range tests {
		if got := mustParse(t, tt.policy).HostsMayDeny(tt.q); got != tt.want {
			t.Errorf("HostsMayDeny(%q, %v) = %v; want %v", tt.policy, tt.q.Addr, got, tt.want)
		}
	}
}
