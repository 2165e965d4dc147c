package lab

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// zoneText is the lab's DNS data in master-file syntax. It is authoritative
// for lab.test and for 113.0.203.in-addr.arpa; big.lab.test's TXT records
// are added by bigTXT.
const zoneText = `
lab.test.                    60 IN SOA   ns.lab.test. hostmaster.lab.test. 1 3600 600 86400 60
lab.test.                    60 IN NS    ns.lab.test.
lab.test.                    60 IN MX    10 mail.lab.test.
lab.test.                    60 IN TXT   "v=lab1 htapod sealed test zone"
ns.lab.test.                 60 IN A     203.0.113.53
mail.lab.test.               60 IN A     203.0.113.11
www.lab.test.                60 IN A     203.0.113.10
www.lab.test.                60 IN AAAA  2001:db8::10
api.lab.test.                60 IN A     203.0.113.11
alias.lab.test.              60 IN CNAME www.lab.test.
_http._tcp.lab.test.         60 IN SRV   0 5 80 www.lab.test.
113.0.203.in-addr.arpa.      60 IN SOA   ns.lab.test. hostmaster.lab.test. 1 3600 600 86400 60
10.113.0.203.in-addr.arpa.   60 IN PTR   www.lab.test.
11.113.0.203.in-addr.arpa.   60 IN PTR   api.lab.test.
`

// FailName is the name for which the lab's DNS server answers SERVFAIL.
const FailName = "fail.lab.test"

// BigName is the name whose TXT records (BigTXT) do not fit into a UDP
// answer, so the server sets the TC bit and the client retries over TCP.
const BigName = "big.lab.test"

// BigTXT returns the TXT strings of BigName, one per record, in the order
// the server sends them: 12 records of 200 bytes, about 2.6 kB in all, more
// than the 1232-byte EDNS buffer that dig and most stub resolvers offer.
func BigTXT() []string {
	txt := make([]string, 12)
	for i := range txt {
		txt[i] = fmt.Sprintf("big-%02d-", i) + strings.Repeat(string(rune('a'+i)), 192)
	}
	return txt
}

// A DNSServer answers for the lab's zone on DNS4, port 53, over UDP and
// TCP. Its methods are safe for concurrent use.
type DNSServer struct {
	zone    map[string][]dns.RR // by lower-case FQDN
	queries atomic.Int64
	servers []*dns.Server // UDP and TCP, for Stop
}

// Queries is the number of queries the server has received, over both
// transports, since the lab started. Tests compare it before and after a
// command to learn whether the command's queries reached the lab.
func (s *DNSServer) Queries() int64 { return s.queries.Load() }

// Stop shuts the server down: from then on its port is closed, so a UDP
// query gets ICMP port unreachable and a TCP one is refused, as with a
// nameserver whose process has died. Tests of a DNS outage use it.
func (s *DNSServer) Stop() {
	for _, srv := range s.servers {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.ShutdownContext(ctx)
		cancel()
	}
}

// DNS returns the lab's DNS server, which New started.
func (l *Lab) DNS() *DNSServer { return l.dns }

// newDNSServer parses the zone; a parse error is a bug in zoneText.
func newDNSServer() (*DNSServer, error) {
	s := &DNSServer{zone: make(map[string][]dns.RR)}
	zp := dns.NewZoneParser(strings.NewReader(zoneText), "", "lab.zone")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		s.add(rr)
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("parse lab zone: %w", err)
	}
	for _, t := range BigTXT() {
		s.add(&dns.TXT{
			Hdr: dns.RR_Header{Name: BigName + ".", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
			Txt: []string{t},
		})
	}
	return s, nil
}

func (s *DNSServer) add(rr dns.RR) {
	name := strings.ToLower(rr.Header().Name)
	s.zone[name] = append(s.zone[name], rr)
}

// apex returns the zone apex that name belongs to, or "" if the server is
// not authoritative for name.
func apex(name string) string {
	for _, z := range []string{"lab.test.", "113.0.203.in-addr.arpa."} {
		if dns.IsSubDomain(z, name) {
			return z
		}
	}
	return ""
}

// ServeDNS answers one query; it implements dns.Handler.
func (s *DNSServer) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	s.queries.Add(1)
	m := s.answer(r)
	if _, isUDP := w.LocalAddr().(*net.UDPAddr); isUDP {
		size := dns.MinMsgSize
		if opt := r.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
		}
		m.Truncate(size)
	}
	_ = w.WriteMsg(m)
}

// answer builds the reply to r, without regard to the transport.
func (s *DNSServer) answer(r *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(r)
	if opt := r.IsEdns0(); opt != nil {
		m.SetEdns0(opt.UDPSize(), false)
	}
	if len(r.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		return m
	}
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	z := apex(name)
	switch {
	case name == FailName+".":
		m.Rcode = dns.RcodeServerFailure
		return m
	case z == "":
		m.Rcode = dns.RcodeRefused
		return m
	}
	m.Authoritative = true
	rrs, ok := s.zone[name]
	if !ok {
		m.Rcode = dns.RcodeNameError
		m.Ns = s.soa(z)
		return m
	}
	for _, rr := range rrs {
		t := rr.Header().Rrtype
		switch {
		case t == q.Qtype || q.Qtype == dns.TypeANY:
			m.Answer = append(m.Answer, rr)
		case t == dns.TypeCNAME:
			// RFC 1034 section 4.3.2: restart the lookup at the
			// canonical name, within our own data.
			m.Answer = append(m.Answer, rr)
			for _, target := range s.zone[strings.ToLower(rr.(*dns.CNAME).Target)] {
				if target.Header().Rrtype == q.Qtype {
					m.Answer = append(m.Answer, target)
				}
			}
		}
	}
	if len(m.Answer) == 0 {
		m.Ns = s.soa(z) // NODATA, RFC 2308 section 2.2
	}
	return m
}

func (s *DNSServer) soa(apex string) []dns.RR {
	for _, rr := range s.zone[apex] {
		if rr.Header().Rrtype == dns.TypeSOA {
			return []dns.RR{rr}
		}
	}
	return nil
}

// startDNS runs the DNS server on DNS4:53 over UDP and TCP until the test
// ends.
func (l *Lab) startDNS() *DNSServer {
	l.tb.Helper()
	s, err := newDNSServer()
	if err != nil {
		l.tb.Fatalf("lab: %v", err)
	}
	addr := net.JoinHostPort(DNS4, "53")
	servers := []*dns.Server{
		{PacketConn: l.ListenPacket("udp", addr), Handler: s},
		{Listener: l.Listen("tcp", addr), Handler: s, ReadTimeout: 5 * time.Second},
	}
	s.servers = servers
	for _, srv := range servers {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			l.tb.Fatalf("lab: DNS server on %s did not start", addr)
		}
		l.tb.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.ShutdownContext(ctx)
		})
	}
	return s
}
