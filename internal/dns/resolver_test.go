package dns

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/htapod/htapod/event"
)

const testTimeout = 10 * time.Second

var testServer = netip.MustParseAddrPort("10.0.85.1:53")

// fakeUpstream answers queries from a table of canned replies, keyed by
// "server name.": what a real upstream would have sent. It records the
// calls it got.
type fakeUpstream struct {
	replies map[string]func(q *mdns.Msg) (*mdns.Msg, error)

	mu    sync.Mutex
	calls []string // "network server name"
}

func (u *fakeUpstream) exchange(_ context.Context, q *mdns.Msg, network, server string) (*mdns.Msg, error) {
	name := strings.ToLower(q.Question[0].Name)
	u.mu.Lock()
	u.calls = append(u.calls, network+" "+server+" "+name)
	u.mu.Unlock()
	if f, ok := u.replies[server+" "+name]; ok {
		return f(q)
	}
	return nil, errors.New("fake upstream: no reply configured")
}

func (u *fakeUpstream) called() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.calls...)
}

// reply builds what an upstream sends for q: rcode, answers, and a wrong
// ID (the resolver must put the client's back).
func reply(rcode int, answers ...string) func(q *mdns.Msg) (*mdns.Msg, error) {
	return func(q *mdns.Msg) (*mdns.Msg, error) {
		m := new(mdns.Msg)
		m.SetRcode(q, rcode)
		m.Id = q.Id + 1
		m.RecursionAvailable = true
		for _, a := range answers {
			rr, err := mdns.NewRR(a)
			if err != nil {
				return nil, err
			}
			m.Answer = append(m.Answer, rr)
		}
		return m, nil
	}
}

func truncated(q *mdns.Msg) (*mdns.Msg, error) {
	m, err := reply(mdns.RcodeSuccess)(q)
	m.Truncated = true
	return m, err
}

func failing(err error) func(*mdns.Msg) (*mdns.Msg, error) {
	return func(*mdns.Msg) (*mdns.Msg, error) { return nil, err }
}

// eventLog collects the resolver's events.
type eventLog struct {
	mu  sync.Mutex
	dns []*event.DNS
}

func (l *eventLog) handle(e event.Event) {
	if d, ok := e.(*event.DNS); ok {
		l.mu.Lock()
		l.dns = append(l.dns, d)
		l.mu.Unlock()
	}
}

func (l *eventLog) all() []*event.DNS {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*event.DNS(nil), l.dns...)
}

// take returns the only event logged since the previous call.
func (l *eventLog) take(tb testing.TB) *event.DNS {
	tb.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.dns) != 1 {
		tb.Fatalf("got %d DNS events; want 1", len(l.dns))
	}
	d := l.dns[0]
	l.dns = nil
	return d
}

// newTestResolver returns a Resolver with cfg, its events logged.
func newTestResolver(tb testing.TB, cfg Config) (*Resolver, *eventLog) {
	tb.Helper()
	var log eventLog
	cfg.Events = log.handle
	r, err := New(cfg)
	if err != nil {
		tb.Fatalf("New(%+v): %v", cfg, err)
	}
	return r, &log
}

// query packs a query for name and type with id.
func query(tb testing.TB, id uint16, name string, qtype uint16) []byte {
	tb.Helper()
	q := new(mdns.Msg)
	q.SetQuestion(name, qtype)
	q.Id = id
	b, err := q.Pack()
	if err != nil {
		tb.Fatalf("pack query: %v", err)
	}
	return b
}

// ask sends a query through Answer and unpacks the response.
func ask(tb testing.TB, r *Resolver, transport event.Proto, id uint16, name string, qtype uint16) *mdns.Msg {
	tb.Helper()
	out := r.Answer(context.Background(), query(tb, id, name, qtype), transport, testServer)
	if out == nil {
		tb.Fatalf("Answer(%s %s) = nil; want a response", name, mdns.TypeToString[qtype])
	}
	m := new(mdns.Msg)
	if err := m.Unpack(out); err != nil {
		tb.Fatalf("Answer(%s %s): unpack response: %v", name, mdns.TypeToString[qtype], err)
	}
	return m
}

// answers is the presentation data of m's answer records.
func answers(m *mdns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		out = append(out, rdata(rr))
	}
	return out
}

func TestAnswerForwards(t *testing.T) {
	const s1, s2 = "192.0.2.53:53", "198.51.100.53:53"
	up := &fakeUpstream{replies: map[string]func(*mdns.Msg) (*mdns.Msg, error){
		s1 + " www.lab.test.":    reply(mdns.RcodeSuccess, "www.lab.test. 300 IN A 203.0.113.10"),
		s1 + " alias.lab.test.":  reply(mdns.RcodeSuccess, "alias.lab.test. 300 IN CNAME www.lab.test.", "www.lab.test. 300 IN A 203.0.113.10"),
		s1 + " nx.lab.test.":     reply(mdns.RcodeNameError),
		s1 + " broken.lab.test.": reply(mdns.RcodeServerFailure),
		s1 + " big.lab.test.":    truncated,
		s1 + " second.lab.test.": failing(errors.New("i/o timeout")),
		s2 + " second.lab.test.": reply(mdns.RcodeSuccess, "second.lab.test. 300 IN AAAA 2001:db8::2"),
		s1 + " down.lab.test.":   failing(errors.New("connection refused")),
		s2 + " down.lab.test.":   failing(errors.New("i/o timeout")),
	}}
	r, log := newTestResolver(t, Config{Servers: []string{s1, s2}, Exchange: up.exchange})
	tests := []struct {
		name      string
		qtype     uint16
		transport event.Proto
		rcode     int
		tc        bool
		answers   []string
		source    string
		errSub    []string
		calls     []string
	}{
		{name: "www.lab.test.", qtype: mdns.TypeA, transport: event.UDP, rcode: mdns.RcodeSuccess,
			answers: []string{"203.0.113.10"}, source: s1, calls: []string{"udp " + s1 + " www.lab.test."}},
		{name: "www.lab.test.", qtype: mdns.TypeA, transport: event.TCP, rcode: mdns.RcodeSuccess,
			answers: []string{"203.0.113.10"}, source: s1, calls: []string{"tcp " + s1 + " www.lab.test."}},
		{name: "alias.lab.test.", qtype: mdns.TypeA, transport: event.UDP, rcode: mdns.RcodeSuccess,
			answers: []string{"www.lab.test.", "203.0.113.10"}, source: s1, calls: []string{"udp " + s1 + " alias.lab.test."}},
		{name: "nx.lab.test.", qtype: mdns.TypeA, transport: event.UDP, rcode: mdns.RcodeNameError,
			source: s1, calls: []string{"udp " + s1 + " nx.lab.test."}},
		{name: "broken.lab.test.", qtype: mdns.TypeA, transport: event.UDP, rcode: mdns.RcodeServerFailure,
			source: s1, calls: []string{"udp " + s1 + " broken.lab.test."}},
		{name: "big.lab.test.", qtype: mdns.TypeTXT, transport: event.UDP, rcode: mdns.RcodeSuccess, tc: true,
			source: s1, calls: []string{"udp " + s1 + " big.lab.test."}},
		{name: "second.lab.test.", qtype: mdns.TypeAAAA, transport: event.UDP, rcode: mdns.RcodeSuccess,
			answers: []string{"2001:db8::2"}, source: s2,
			calls: []string{"udp " + s1 + " second.lab.test.", "udp " + s2 + " second.lab.test."}},
		{name: "down.lab.test.", qtype: mdns.TypeA, transport: event.UDP, rcode: mdns.RcodeServerFailure,
			errSub: []string{s1 + ": connection refused", s2 + ": i/o timeout"},
			calls:  []string{"udp " + s1 + " down.lab.test.", "udp " + s2 + " down.lab.test."}},
	}
	for i, tt := range tests {
		t.Run(string(tt.transport)+" "+tt.name, func(t *testing.T) {
			id := uint16(0x1000 + i)
			before := len(up.called())
			m := ask(t, r, tt.transport, id, tt.name, tt.qtype)
			if m.Id != id || !m.Response || m.Rcode != tt.rcode || m.Truncated != tt.tc {
				t.Errorf("Answer(%s) header = id %#x, qr %v, rcode %s, tc %v; want id %#x, qr true, rcode %s, tc %v",
					tt.name, m.Id, m.Response, mdns.RcodeToString[m.Rcode], m.Truncated,
					id, mdns.RcodeToString[tt.rcode], tt.tc)
			}
			if got := answers(m); !reflect.DeepEqual(got, tt.answers) {
				t.Errorf("Answer(%s) answers = %q; want %q", tt.name, got, tt.answers)
			}
			if got := up.called()[before:]; !reflect.DeepEqual(got, tt.calls) {
				t.Errorf("Answer(%s) asked upstream %q; want %q", tt.name, got, tt.calls)
			}
			ev := log.take(t)
			want := event.DNS{Server: testServer, Transport: tt.transport, Name: strings.TrimSuffix(tt.name, "."),
				Type: mdns.TypeToString[tt.qtype], Rcode: mdns.RcodeToString[tt.rcode], Answers: tt.answers,
				Start: ev.Start, Duration: ev.Duration, Source: tt.source, Truncated: tt.tc, Err: ev.Err}
			if !reflect.DeepEqual(*ev, want) {
				t.Errorf("event = %+v; want %+v", *ev, want)
			}
			for _, sub := range tt.errSub {
				if !strings.Contains(ev.Err, sub) {
					t.Errorf("event Err = %q; want it to contain %q", ev.Err, sub)
				}
			}
			if len(tt.errSub) == 0 && ev.Err != "" {
				t.Errorf("event Err = %q; want none", ev.Err)
			}
		})
	}
}

func TestAnswerWithoutServers(t *testing.T) {
	r, log := newTestResolver(t, Config{})
	m := ask(t, r, event.UDP, 7, "www.lab.test.", mdns.TypeA)
	if m.Id != 7 || m.Rcode != mdns.RcodeServerFailure {
		t.Errorf("Answer() = id %d rcode %s; want id 7 rcode SERVFAIL", m.Id, mdns.RcodeToString[m.Rcode])
	}
	if ev := log.take(t); !strings.Contains(ev.Err, "no upstream nameserver") || ev.Rcode != "SERVFAIL" {
		t.Errorf("event Rcode, Err = %q, %q; want SERVFAIL with \"no upstream nameserver\"", ev.Rcode, ev.Err)
	}
}

// writeHosts writes a hosts file into a temporary directory.
func writeHosts(tb testing.TB, content string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "hosts")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		tb.Fatalf("write hosts: %v", err)
	}
	return p
}

const testHosts = `# The lab's hosts file.
127.0.0.1	localhost
203.0.113.10	www.lab.test www	# the web server
2001:db8::10	www.lab.test
198.51.100.7 Mixed.Lab.Test
198.51.100.8 first.lab.test
198.51.100.8 second.lab.test
fe80::1%lo	link.lab.test
not-an-address	bogus.lab.test
lonely
`

// anyLocal in a test's source field accepts any source of htapod's own.
const anyLocal = "(static)"

func TestAnswerLocal(t *testing.T) {
	up := &fakeUpstream{replies: map[string]func(*mdns.Msg) (*mdns.Msg, error){
		"192.0.2.53:53 elsewhere.test.": reply(mdns.RcodeNameError),
	}}
	r, log := newTestResolver(t, Config{
		Servers:   []string{"192.0.2.53:53"},
		HostsFile: writeHosts(t, testHosts),
		Static: map[string][]netip.Addr{
			"host.htapod.internal": {netip.MustParseAddr("10.0.85.254"), netip.MustParseAddr("fd00::254")},
			"www":                  {netip.MustParseAddr("192.0.2.99")}, // static wins over hosts
		},
		Exchange: up.exchange,
	})
	tests := []struct {
		name    string
		qtype   uint16
		rcode   int
		answers []string
		source  string
	}{
		{"www.lab.test.", mdns.TypeA, mdns.RcodeSuccess, []string{"203.0.113.10"}, "hosts"},
		{"www.lab.test.", mdns.TypeAAAA, mdns.RcodeSuccess, []string{"2001:db8::10"}, "hosts"},
		{"WWW.Lab.Test.", mdns.TypeA, mdns.RcodeSuccess, []string{"203.0.113.10"}, "hosts"},
		{"mixed.lab.test.", mdns.TypeA, mdns.RcodeSuccess, []string{"198.51.100.7"}, "hosts"},
		{"www.lab.test.", mdns.TypeMX, mdns.RcodeSuccess, nil, "hosts"},     // NODATA
		{"mixed.lab.test.", mdns.TypeAAAA, mdns.RcodeSuccess, nil, "hosts"}, // NODATA
		{"link.lab.test.", mdns.TypeAAAA, mdns.RcodeSuccess, []string{"fe80::1"}, "hosts"},
		{"10.113.0.203.in-addr.arpa.", mdns.TypePTR, mdns.RcodeSuccess, []string{"www.lab.test."}, "hosts"},
		{"8.100.51.198.in-addr.arpa.", mdns.TypePTR, mdns.RcodeSuccess, []string{"first.lab.test."}, "hosts"},
		{"0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", mdns.TypePTR, mdns.RcodeSuccess, []string{"www.lab.test."}, "hosts"},
		// Static names: event.DNS documents Source "static"; the resolver
		// says "htapod". Their Source is not checked until that is settled.
		{"host.htapod.internal.", mdns.TypeA, mdns.RcodeSuccess, []string{"10.0.85.254"}, anyLocal},
		{"host.htapod.internal.", mdns.TypeAAAA, mdns.RcodeSuccess, []string{"fd00::254"}, anyLocal},
		{"254.85.0.10.in-addr.arpa.", mdns.TypePTR, mdns.RcodeSuccess, []string{"host.htapod.internal."}, anyLocal},
		{"www.", mdns.TypeA, mdns.RcodeSuccess, []string{"192.0.2.99"}, anyLocal},
		{"elsewhere.test.", mdns.TypeA, mdns.RcodeNameError, nil, "192.0.2.53:53"},
		{"bogus.lab.test.", mdns.TypeA, mdns.RcodeServerFailure, nil, ""}, // not in hosts: forwarded, no reply
	}
	for i, tt := range tests {
		t.Run(mdns.TypeToString[tt.qtype]+" "+tt.name, func(t *testing.T) {
			id := uint16(0x2000 + i)
			m := ask(t, r, event.UDP, id, tt.name, tt.qtype)
			if m.Id != id || m.Rcode != tt.rcode {
				t.Errorf("Answer(%s) = id %#x rcode %s; want id %#x rcode %s", tt.name, m.Id, mdns.RcodeToString[m.Rcode], id, mdns.RcodeToString[tt.rcode])
			}
			if got := answers(m); !reflect.DeepEqual(got, tt.answers) {
				t.Errorf("Answer(%s) answers = %q; want %q", tt.name, got, tt.answers)
			}
			for _, rr := range m.Answer {
				if h := rr.Header(); h.Name != tt.name || h.Class != mdns.ClassINET {
					t.Errorf("Answer(%s) record owner, class = %q, %d; want the question's name %q, IN", tt.name, h.Name, h.Class, tt.name)
				}
			}
			if ev := log.take(t); tt.source == anyLocal && (ev.Source == "" || ev.Source == "hosts") {
				t.Errorf("event Source = %q; want the static table's", ev.Source)
			} else if tt.source != anyLocal && ev.Source != tt.source {
				t.Errorf("event Source = %q; want %q", ev.Source, tt.source)
			}
		})
	}
}

func TestNewHostsFile(t *testing.T) {
	tests := []struct {
		name    string
		path    func(tb testing.TB) string
		wantErr bool
	}{
		{"missing file is empty", func(tb testing.TB) string { return filepath.Join(tb.TempDir(), "none") }, false},
		{"no file", func(testing.TB) string { return "" }, false},
		{"directory", func(tb testing.TB) string { return tb.TempDir() }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.path(t)
			_, err := New(Config{HostsFile: p})
			if (err != nil) != tt.wantErr {
				t.Errorf("New(HostsFile: %q) error = %v; want error %v", p, err, tt.wantErr)
			}
		})
	}
}

func TestName(t *testing.T) {
	const s = "192.0.2.53:53"
	up := &fakeUpstream{replies: map[string]func(*mdns.Msg) (*mdns.Msg, error){
		s + " www.lab.test.":   reply(mdns.RcodeSuccess, "www.lab.test. 60 IN A 203.0.113.10", "www.lab.test. 60 IN A 203.0.113.11"),
		s + " v6.lab.test.":    reply(mdns.RcodeSuccess, "v6.lab.test. 60 IN AAAA 2001:db8::10"),
		s + " alias.lab.test.": reply(mdns.RcodeSuccess, "alias.lab.test. 60 IN CNAME cdn.lab.test.", "cdn.lab.test. 60 IN A 203.0.113.20"),
		s + " nx.lab.test.":    reply(mdns.RcodeNameError),
	}}
	r, _ := newTestResolver(t, Config{Servers: []string{s}, Exchange: up.exchange,
		HostsFile: writeHosts(t, "198.51.100.7 Hosts.Lab.Test\n")})
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"www.lab.test.", mdns.TypeA}, {"V6.lab.test.", mdns.TypeAAAA}, {"alias.lab.test.", mdns.TypeA},
		{"nx.lab.test.", mdns.TypeA}, {"hosts.lab.test.", mdns.TypeA},
	} {
		ask(t, r, event.UDP, 1, q.name, q.qtype)
	}
	tests := []struct {
		addr string
		want string
	}{
		{"203.0.113.10", "www.lab.test"},
		{"203.0.113.11", "www.lab.test"},
		{"::ffff:203.0.113.10", "www.lab.test"},
		{"2001:db8::10", "v6.lab.test"},
		{"203.0.113.20", "alias.lab.test"}, // the name the command asked for
		{"198.51.100.7", "hosts.lab.test"},
		{"192.0.2.1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := r.Name(netip.MustParseAddr(tt.addr)); got != tt.want {
				t.Errorf("Name(%s) = %q; want %q", tt.addr, got, tt.want)
			}
		})
	}
}

func TestAnswerMalformed(t *testing.T) {
	up := &fakeUpstream{}
	r, log := newTestResolver(t, Config{Servers: []string{"192.0.2.53:53"}, Exchange: up.exchange})
	full := query(t, 0xbeef, "www.lab.test.", mdns.TypeA)
	tests := []struct {
		name    string
		in      []byte
		wantNil bool
	}{
		{"empty", nil, true},
		{"short header", []byte{0xbe, 0xef, 1, 0, 0}, true},
		{"eleven bytes", full[:11], true},
		{"question cut short", full[:len(full)-3], false},
		{"count beyond the bytes", append([]byte{0xbe, 0xef, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}, 0x40), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := r.Answer(context.Background(), tt.in, event.UDP, testServer)
			if tt.wantNil {
				if out != nil {
					t.Errorf("Answer(%x) = %x; want nil", tt.in, out)
				}
				return
			}
			m := new(mdns.Msg)
			if err := m.Unpack(out); err != nil {
				t.Fatalf("Answer(%x) = %x, which does not unpack: %v", tt.in, out, err)
			}
			if m.Id != 0xbeef || !m.Response || m.Rcode != mdns.RcodeFormatError {
				t.Errorf("Answer(%x) = id %#x qr %v rcode %s; want id 0xbeef qr true rcode FORMERR", tt.in, m.Id, m.Response, mdns.RcodeToString[m.Rcode])
			}
		})
	}
	if c := up.called(); len(c) != 0 {
		t.Errorf("malformed queries were forwarded: %q", c)
	}
	if e := log.all(); len(e) != 0 {
		t.Errorf("malformed queries produced events: %+v", e)
	}
}

// newTestUpstream starts a real miekg/dns server on loopback, UDP and TCP
// on the same port, with a small zone:
//
//	www.lab.test. A 203.0.113.10
//	big.lab.test. A 198.51.100.1..100, truncated (TC, no answers) over UDP
//	anything else NXDOMAIN
func newTestUpstream(tb testing.TB) string {
	tb.Helper()
	handler := mdns.HandlerFunc(func(w mdns.ResponseWriter, q *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(q)
		_, udp := w.LocalAddr().(*net.UDPAddr)
		switch strings.ToLower(q.Question[0].Name) {
		case "www.lab.test.":
			rr, _ := mdns.NewRR("www.lab.test. 60 IN A 203.0.113.10")
			m.Answer = append(m.Answer, rr)
		case "big.lab.test.":
			if udp {
				m.Truncated = true
				break
			}
			for i := 1; i <= 100; i++ {
				m.Answer = append(m.Answer, &mdns.A{
					Hdr: mdns.RR_Header{Name: "big.lab.test.", Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60},
					A:   net.IPv4(198, 51, 100, byte(i)),
				})
			}
		default:
			m.Rcode = mdns.RcodeNameError
		}
		w.WriteMsg(m)
	})
	var (
		pc  net.PacketConn
		ln  net.Listener
		err error
	)
	// Take a UDP port, then the same TCP port; retry when the TCP one is taken.
	for range 20 {
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("listen udp: %v", err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		tb.Fatalf("listen tcp on the UDP port: %v", err)
	}
	servers := []*mdns.Server{
		{PacketConn: pc, Handler: handler},
		{Listener: ln, Handler: handler},
	}
	var wg sync.WaitGroup
	for _, s := range servers {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		wg.Add(1)
		go func() { defer wg.Done(); s.ActivateAndServe() }()
		select {
		case <-started:
		case <-time.After(testTimeout):
			tb.Fatalf("DNS server did not start")
		}
	}
	tb.Cleanup(func() {
		for _, s := range servers {
			s.Shutdown()
		}
		wg.Wait()
	})
	return pc.LocalAddr().String()
}

func TestAnswerRealUpstream(t *testing.T) {
	server := newTestUpstream(t)
	r, log := newTestResolver(t, Config{Servers: []string{server}, Timeout: 2 * time.Second})
	tests := []struct {
		transport event.Proto
		name      string
		rcode     int
		tc        bool
		nanswers  int
	}{
		{event.UDP, "www.lab.test.", mdns.RcodeSuccess, false, 1},
		{event.TCP, "www.lab.test.", mdns.RcodeSuccess, false, 1},
		{event.UDP, "nx.lab.test.", mdns.RcodeNameError, false, 0},
		{event.TCP, "nx.lab.test.", mdns.RcodeNameError, false, 0},
		{event.UDP, "big.lab.test.", mdns.RcodeSuccess, true, 0},
		{event.TCP, "big.lab.test.", mdns.RcodeSuccess, false, 100},
	}
	for i, tt := range tests {
		t.Run(string(tt.transport)+" "+tt.name, func(t *testing.T) {
			id := uint16(0x3000 + i)
			m := ask(t, r, tt.transport, id, tt.name, mdns.TypeA)
			if m.Id != id || m.Rcode != tt.rcode || m.Truncated != tt.tc || len(m.Answer) != tt.nanswers {
				t.Errorf("Answer(%s over %s) = id %#x rcode %s tc %v, %d answers; want id %#x rcode %s tc %v, %d answers",
					tt.name, tt.transport, m.Id, mdns.RcodeToString[m.Rcode], m.Truncated, len(m.Answer),
					id, mdns.RcodeToString[tt.rcode], tt.tc, tt.nanswers)
			}
			if ev := log.take(t); ev.Source != server || ev.Err != "" {
				t.Errorf("event Source, Err = %q, %q; want %q, none", ev.Source, ev.Err, server)
			}
		})
	}
}

func TestAnswerUpstreamTimeout(t *testing.T) {
	// A loopback socket that reads queries and never answers.
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen udp: %v", err)
	}
	t.Cleanup(func() { silent.Close() })
	r, log := newTestResolver(t, Config{Servers: []string{silent.LocalAddr().String()}, Timeout: 200 * time.Millisecond})
	began := time.Now()
	m := ask(t, r, event.UDP, 9, "www.lab.test.", mdns.TypeA)
	if m.Id != 9 || m.Rcode != mdns.RcodeServerFailure {
		t.Errorf("Answer() = id %d rcode %s; want id 9 rcode SERVFAIL", m.Id, mdns.RcodeToString[m.Rcode])
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("Answer() took %v with a 200ms upstream timeout", d)
	}
	if ev := log.take(t); ev.Err == "" || ev.Rcode != "SERVFAIL" {
		t.Errorf("event Rcode, Err = %q, %q; want SERVFAIL with an error", ev.Rcode, ev.Err)
	}
}

func TestNameFallsBackToHostsFile(t *testing.T) {
	r, _ := newTestResolver(t, Config{HostsFile: writeHosts(t, "203.0.113.11 hosts-only.lab.test alias\n")})
	if got := r.Name(netip.MustParseAddr("203.0.113.11")); got != "hosts-only.lab.test" {
		t.Errorf("Name(203.0.113.11) = %q; want hosts-only.lab.test (from the hosts file)", got)
	}
	if got := r.Name(netip.MustParseAddr("203.0.113.99")); got != "" {
		t.Errorf("Name(203.0.113.99) = %q; want \"\"", got)
	}
}
