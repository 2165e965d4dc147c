package dns_test

import (
	"fmt"
	"net/netip"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/dissect/dns"
	"github.com/htapod/htapod/event"
)

func ExampleNewUDP() {
	meta := dissect.Meta{FlowID: 1, Proto: event.UDP, Dst: netip.MustParseAddrPort("192.0.2.53:53")}
	d := dns.NewUDP(meta, dissect.Options{}, func(e event.Event) {
		ev := e.(*event.DNS)
		fmt.Printf("%s %s rcode=%q answers=%v took=%v err=%q\n", ev.Name, ev.Type, ev.Rcode, ev.Answers, ev.Duration, ev.Err)
	})

	q := new(mdns.Msg)
	q.SetQuestion("www.lab.test.", mdns.TypeA)
	r := new(mdns.Msg)
	r.SetReply(q)
	rr, _ := mdns.NewRR("www.lab.test. 60 IN A 203.0.113.10")
	r.Answer = append(r.Answer, rr)
	q2 := new(mdns.Msg)
	q2.SetQuestion("lost.lab.test.", mdns.TypeAAAA)

	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, m := range []*mdns.Msg{q, r, q2} {
		b, _ := m.Pack()
		dir := event.Up
		if m.Response {
			dir = event.Down
		}
		d.Datagram(dir, b, start.Add(time.Duration(i)*7*time.Millisecond))
	}
	d.Close(start.Add(time.Second))
	// Output:
	// www.lab.test A rcode="NOERROR" answers=[203.0.113.10] took=7ms err=""
	// lost.lab.test AAAA rcode="" answers=[] took=0s err="no answer"
}
