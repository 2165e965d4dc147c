package dns

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
)

var (
	testMeta = dissect.Meta{
		FlowID: 9,
		Src:    netip.MustParseAddrPort("10.0.0.2:40000"),
		Dst:    netip.MustParseAddrPort("192.0.2.53:53"),
	}
	t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ms = time.Millisecond
)

// newQuery returns a query for name and qtype with ID id.
func newQuery(id uint16, name string, qtype uint16) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(name), qtype)
	m.Id = id
	return m
}

// newReply returns q's answer with rcode and the records rrs, in zone
// file form.
func newReply(tb testing.TB, q *mdns.Msg, rcode int, rrs ...string) *mdns.Msg {
	tb.Helper()
	m := new(mdns.Msg)
	m.SetRcode(q, rcode)
	for _, s := range rrs {
		rr, err := mdns.NewRR(s)
		if err != nil {
			tb.Fatalf("NewRR(%q): %v", s, err)
		}
		m.Answer = append(m.Answer, rr)
	}
	return m
}

// pack returns m's wire form.
func pack(tb testing.TB, m *mdns.Msg) []byte {
	tb.Helper()
	b, err := m.Pack()
	if err != nil {
		tb.Fatalf("Pack: %v", err)
	}
	return b
}

// want is the event expected for a query on the test flow.
func want(transport event.Proto, id uint16, name, typ string, start, end time.Duration, rcode string, answers ...string) *event.DNS {
	return &event.DNS{
		FlowID:    testMeta.FlowID,
		ID:        id,
		Server:    testMeta.Dst,
		Transport: transport,
		Name:      name,
		Type:      typ,
		Rcode:     rcode,
		Answers:   answers,
		Start:     t0.Add(start),
		Duration:  end - start,
		Source:    testMeta.Dst.String(),
	}
}

// unanswered is want for a query that got no answer.
func unanswered(transport event.Proto, id uint16, name, typ string, start time.Duration, err string) *event.DNS {
	e := want(transport, id, name, typ, start, start, "")
	e.Err = err
	return e
}

// msg is one message of a scripted flow, at t0+at.
type msg struct {
	dir event.Direction
	b   []byte
	at  time.Duration
}

// collect returns an Emit that appends to *evs.
func collect(evs *[]event.Event) dissect.Emit {
	return func(e event.Event) { *evs = append(*evs, e) }
}

// checkEvents compares events, ignoring the wording of Unparsed reasons.
func checkEvents(tb testing.TB, got, want []event.Event) {
	tb.Helper()
	for _, e := range got {
		if u, ok := e.(*event.Unparsed); ok {
			if !strings.Contains(u.Reason, "malformed") {
				tb.Errorf("Unparsed.Reason = %q; want it to say malformed", u.Reason)
			}
			u.Reason = ""
		}
	}
	if !reflect.DeepEqual(got, want) {
		tb.Errorf("events:\n%s\nwant:\n%s", dump(got), dump(want))
	}
}

// dump formats events one a line for failure messages.
func dump(evs []event.Event) string {
	var s strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&s, "\t%+v\n", e)
	}
	return s.String()
}

// udpCase is a scripted UDP flow and the events it makes.
type udpCase struct {
	name    string
	msgs    []msg
	wantErr error // from the last Datagram call
	want    []event.Event
}

func udpCases(tb testing.TB) []udpCase {
	up, down := event.Up, event.Down
	qa := newQuery(1, "www.lab.test", mdns.TypeA)
	qaaaa := newQuery(2, "www.lab.test", mdns.TypeAAAA)
	qcname := newQuery(3, "alias.lab.test", mdns.TypeA)
	qmx := newQuery(4, "lab.test", mdns.TypeMX)
	qnx := newQuery(5, "nope.lab.test", mdns.TypeA)
	qfail := newQuery(6, "broken.lab.test", mdns.TypeTXT)
	qtc := newQuery(7, "big.lab.test", mdns.TypeTXT)
	tc := newReply(tb, qtc, mdns.RcodeSuccess)
	tc.Truncated = true
	q0x20 := newQuery(8, "WwW.lAb.TeSt", mdns.TypeA)
	r0x20 := newReply(tb, q0x20, mdns.RcodeSuccess, "WwW.lAb.TeSt. 60 IN A 203.0.113.10")
	other := newReply(tb, newQuery(1, "other.lab.test", mdns.TypeA), mdns.RcodeSuccess, "other.lab.test. 60 IN A 203.0.113.99")
	formerr := new(mdns.Msg)
	formerr.Id, formerr.Response, formerr.Rcode = 1, true, mdns.RcodeFormatError
	udp := event.UDP
	return []udpCase{{
		name: "A",
		msgs: []msg{{up, pack(tb, qa), 0}, {down, pack(tb, newReply(tb, qa, mdns.RcodeSuccess, "www.lab.test. 60 IN A 203.0.113.10")), 12 * ms}},
		want: []event.Event{want(udp, 1, "www.lab.test", "A", 0, 12*ms, "NOERROR", "203.0.113.10")},
	}, {
		name: "AAAA",
		msgs: []msg{{up, pack(tb, qaaaa), 0}, {down, pack(tb, newReply(tb, qaaaa, mdns.RcodeSuccess, "www.lab.test. 60 IN AAAA 2001:db8::10", "www.lab.test. 60 IN AAAA 2001:db8::11")), 3 * ms}},
		want: []event.Event{want(udp, 2, "www.lab.test", "AAAA", 0, 3*ms, "NOERROR", "2001:db8::10", "2001:db8::11")},
	}, {
		// CNAME targets keep their final dot, as htapod's resolver reports them.
		name: "CNAME chain",
		msgs: []msg{{up, pack(tb, qcname), 0}, {down, pack(tb, newReply(tb, qcname, mdns.RcodeSuccess,
			"alias.lab.test. 60 IN CNAME next.lab.test.",
			"next.lab.test. 60 IN CNAME www.lab.test.",
			"www.lab.test. 60 IN A 203.0.113.10")), 5 * ms}},
		want: []event.Event{want(udp, 3, "alias.lab.test", "A", 0, 5*ms, "NOERROR", "next.lab.test.", "www.lab.test.", "203.0.113.10")},
	}, {
		name: "MX",
		msgs: []msg{{up, pack(tb, qmx), 0}, {down, pack(tb, newReply(tb, qmx, mdns.RcodeSuccess, "lab.test. 60 IN MX 10 mail.lab.test.")), ms}},
		want: []event.Event{want(udp, 4, "lab.test", "MX", 0, ms, "NOERROR", "10 mail.lab.test.")},
	}, {
		name: "NXDOMAIN",
		msgs: []msg{{up, pack(tb, qnx), 0}, {down, pack(tb, newReply(tb, qnx, mdns.RcodeNameError)), ms}},
		want: []event.Event{want(udp, 5, "nope.lab.test", "A", 0, ms, "NXDOMAIN")},
	}, {
		name: "SERVFAIL",
		msgs: []msg{{up, pack(tb, qfail), 0}, {down, pack(tb, newReply(tb, qfail, mdns.RcodeServerFailure)), 2 * time.Second}},
		want: []event.Event{want(udp, 6, "broken.lab.test", "TXT", 0, 2*time.Second, "SERVFAIL")},
	}, {
		name: "truncated (TC)",
		msgs: []msg{{up, pack(tb, qtc), 0}, {down, pack(tb, tc), ms}},
		want: []event.Event{func() event.Event {
			e := want(udp, 7, "big.lab.test", "TXT", 0, ms, "NOERROR")
			e.Truncated = true
			return e
		}()},
	}, {
		// A TC answer cut inside a record is still an answer.
		name: "truncated inside a record",
		msgs: []msg{{up, pack(tb, qtc), 0}, {down, func() []byte {
			r := newReply(tb, qtc, mdns.RcodeSuccess, `big.lab.test. 60 IN TXT "0123456789"`)
			r.Truncated = true
			b := pack(tb, r)
			return b[:len(b)-4]
		}(), ms}},
		want: []event.Event{func() event.Event {
			e := want(udp, 7, "big.lab.test", "TXT", 0, ms, "NOERROR")
			e.Truncated = true
			return e
		}()},
	}, {
		name: "0x20 case randomisation",
		msgs: []msg{{up, pack(tb, q0x20), 0}, {down, pack(tb, r0x20), ms}},
		want: []event.Event{want(udp, 8, "WwW.lAb.TeSt", "A", 0, ms, "NOERROR", "203.0.113.10")},
	}, {
		name: "unanswered",
		msgs: []msg{{up, pack(tb, qa), 0}},
		want: []event.Event{unanswered(udp, 1, "www.lab.test", "A", 0, "no answer")},
	}, {
		// The retransmission keeps the first query's start.
		name: "retransmitted",
		msgs: []msg{{up, pack(tb, qa), 0}, {up, pack(tb, qa), time.Second}, {down, pack(tb, newReply(tb, qa, mdns.RcodeSuccess)), 1100 * ms}, {down, pack(tb, newReply(tb, qa, mdns.RcodeSuccess)), 1200 * ms}},
		want: []event.Event{want(udp, 1, "www.lab.test", "A", 0, 1100*ms, "NOERROR")},
	}, {
		name: "same ID, other question",
		msgs: []msg{{up, pack(tb, qa), 0}, {down, pack(tb, other), ms}},
		want: []event.Event{unanswered(udp, 1, "www.lab.test", "A", 0, "no answer")},
	}, {
		name: "answer without question",
		msgs: []msg{{up, pack(tb, qa), 0}, {down, pack(tb, formerr), ms}},
		want: []event.Event{want(udp, 1, "www.lab.test", "A", 0, ms, "FORMERR")},
	}, {
		name: "answer to no query",
		msgs: []msg{{down, pack(tb, newReply(tb, qa, mdns.RcodeSuccess)), 0}},
	}, {
		name:    "malformed",
		msgs:    []msg{{up, pack(tb, qa), 0}, {down, []byte("HTTP/1.1 400 Bad Request\r\n"), ms}},
		wantErr: dissect.ErrMalformed,
		want: []event.Event{
			&event.Unparsed{FlowID: testMeta.FlowID, Time: t0.Add(ms), Dissector: "dns"},
			unanswered(udp, 1, "www.lab.test", "A", 0, "no answer seen: the dissector stopped at a malformed message"),
		},
	}, {
		name:    "too short",
		msgs:    []msg{{up, []byte{0, 1, 1}, 0}},
		wantErr: dissect.ErrMalformed,
		want:    []event.Event{&event.Unparsed{FlowID: testMeta.FlowID, Time: t0, Dissector: "dns"}},
	}}
}

func TestUDP(t *testing.T) {
	for _, tc := range udpCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			var evs []event.Event
			d := NewUDP(testMeta, dissect.Options{}, collect(&evs))
			var err error
			for _, m := range tc.msgs {
				err = d.Datagram(m.dir, m.b, t0.Add(m.at))
			}
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Errorf("Datagram = %v; want %v", err, tc.wantErr)
			}
			if err != nil {
				if err := d.Datagram(event.Up, []byte("more junk"), t0); err != nil {
					t.Errorf("Datagram after the error = %v; want nil", err)
				}
			}
			d.Close(t0.Add(time.Minute))
			d.Close(t0.Add(time.Hour))
			checkEvents(t, evs, tc.want)
		})
	}
}

// TestPendingBound: past MaxPending waiting queries the oldest is
// reported unanswered.
func TestPendingBound(t *testing.T) {
	var evs []event.Event
	d := NewUDP(testMeta, dissect.Options{}, collect(&evs))
	for i := range MaxPending + 2 {
		if err := d.Datagram(event.Up, pack(t, newQuery(uint16(i), "www.lab.test", mdns.TypeA)), t0); err != nil {
			t.Fatal(err)
		}
	}
	wantEvs := []event.Event{
		unanswered(event.UDP, 0, "www.lab.test", "A", 0, "no answer: too many queries were waiting"),
		unanswered(event.UDP, 1, "www.lab.test", "A", 0, "no answer: too many queries were waiting"),
	}
	checkEvents(t, evs, wantEvs)
	if err := d.Datagram(event.Down, pack(t, newReply(t, newQuery(1, "www.lab.test", mdns.TypeA), mdns.RcodeSuccess)), t0); err != nil {
		t.Fatal(err)
	}
	d.Close(t0)
	if n := len(evs); n != MaxPending+2 {
		t.Errorf("%d events after Close; want %d", n, MaxPending+2)
	}
}
