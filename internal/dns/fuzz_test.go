package dns

import (
	"context"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/htapod/htapod/event"
)

// FuzzAnswer feeds arbitrary bytes to Resolver.Answer. It must not panic;
// anything of at least a header's length gets a response with the
// client's ID and the QR bit, anything shorter is dropped. The upstream is
// a fake that answers every question with one A record. Seeds are in
// testdata/fuzz/FuzzAnswer.
func FuzzAnswer(f *testing.F) {
	exchange := func(_ context.Context, q *mdns.Msg, _, _ string) (*mdns.Msg, error) {
		m := new(mdns.Msg)
		m.SetReply(q)
		if len(q.Question) > 0 {
			m.Answer = append(m.Answer, &mdns.A{
				Hdr: mdns.RR_Header{Name: q.Question[0].Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60},
				A:   []byte{203, 0, 113, 10},
			})
		}
		return m, nil
	}
	r, err := New(Config{
		Servers:   []string{"192.0.2.53:53"},
		Exchange:  exchange,
		HostsFile: writeHosts(f, "203.0.113.10 www.lab.test\n2001:db8::10 www.lab.test\n"),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, query []byte) {
		out := r.Answer(context.Background(), query, event.UDP, testServer)
		if len(query) < 12 {
			if out != nil {
				t.Fatalf("Answer(%x) = %x; want nil for fewer than 12 bytes", query, out)
			}
			return
		}
		if len(out) < 12 {
			t.Fatalf("Answer(%x) = %x; want a DNS response", query, out)
		}
		if out[0] != query[0] || out[1] != query[1] || out[2]&0x80 == 0 {
			t.Fatalf("Answer(%x) = %x; want the query's ID %x and QR set", query, out, query[:2])
		}
	})
}
