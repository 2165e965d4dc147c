package dns

import (
	"net"
	"net/netip"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/htapod/htapod/event"
)

// an upstream UDP answer truncated at 512 bytes in the middle of a
// record (TC set; RFC 1035 §4.2.1 allows a server to cut the message) makes
// miekg's client return an unpack error with the message, and resolve
// treats it as a failed upstream: the client gets SERVFAIL, not TC, so it
// never retries over TCP.
func TestTruncatedMidRecordStaysTruncated(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := new(mdns.Msg)
			if q.Unpack(buf[:n]) != nil {
				continue
			}
			m := new(mdns.Msg)
			m.SetReply(q)
			for i := 1; i <= 100; i++ {
				m.Answer = append(m.Answer, &mdns.A{
					Hdr: mdns.RR_Header{Name: q.Question[0].Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60},
					A:   net.IPv4(198, 51, 100, byte(i)),
				})
			}
			m.Compress = false
			m.Truncated = true
			b, _ := m.Pack()
			pc.WriteTo(b[:512], from) // cut mid-record
		}
	}()
	r, _ := newTestResolver(t, Config{Servers: []string{pc.LocalAddr().String()}, Timeout: time.Second})
	m := ask(t, r, event.UDP, 5, "big.lab.test.", mdns.TypeA)
	if m.Rcode != mdns.RcodeSuccess || !m.Truncated {
		t.Errorf("Answer(big.lab.test over udp) = rcode %s tc %v; want NOERROR with TC set", mdns.RcodeToString[m.Rcode], m.Truncated)
	}
}

// htapod's own names are reported with Source "htapod", as event.DNS says.
func TestStaticSource(t *testing.T) {
	r, log := newTestResolver(t, Config{Static: map[string][]netip.Addr{"host.htapod.internal": {netip.MustParseAddr("10.0.85.254")}}})
	ask(t, r, event.UDP, 1, "host.htapod.internal.", mdns.TypeA)
	if ev := log.take(t); ev.Source != "htapod" {
		t.Errorf("event Source = %q; want %q (event.DNS.Source doc)", ev.Source, "htapod")
	}
}
