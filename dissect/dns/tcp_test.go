package dns

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
)

// framed prefixes each message with its two-byte length (RFC 1035
// §4.2.2) and concatenates them.
func framed(msgs ...[]byte) []byte {
	var out []byte
	for _, m := range msgs {
		out = append(out, byte(len(m)>>8), byte(len(m)))
		out = append(out, m...)
	}
	return out
}

// tcpFeed gives d the scripted writes in pieces of at most piece bytes
// (0: whole), and returns the first error.
func tcpFeed(d dissect.Stream, msgs []msg, piece int) error {
	for _, m := range msgs {
		for b := m.b; len(b) > 0; {
			n := len(b)
			if piece > 0 {
				n = min(n, piece)
			}
			if err := d.Data(m.dir, b[:n], t0.Add(m.at)); err != nil {
				return err
			}
			b = b[n:]
		}
	}
	return nil
}

func TestTCP(t *testing.T) {
	up, down := event.Up, event.Down
	qa := newQuery(0x1111, "www.lab.test", mdns.TypeA)
	qaaaa := newQuery(0x2222, "www.lab.test", mdns.TypeAAAA)
	ra := newReply(t, qa, mdns.RcodeSuccess, "www.lab.test. 60 IN A 203.0.113.10")
	raaaa := newReply(t, qaaaa, mdns.RcodeSuccess, "www.lab.test. 60 IN AAAA 2001:db8::10")
	tcp := event.TCP
	evA := want(tcp, 0x1111, "www.lab.test", "A", 0, 20*ms, "NOERROR", "203.0.113.10")
	tests := []struct {
		name    string
		msgs    []msg
		wantErr error
		want    []event.Event
	}{{
		name: "one query",
		msgs: []msg{{up, framed(pack(t, qa)), 0}, {down, framed(pack(t, ra)), 20 * ms}},
		want: []event.Event{evA},
	}, {
		// Both queries in one write, the answers in the other order.
		name: "pipelined, answered out of order",
		msgs: []msg{
			{up, framed(pack(t, qa), pack(t, qaaaa)), 0},
			{down, framed(pack(t, raaaa)), 10 * ms},
			{down, framed(pack(t, ra)), 20 * ms},
		},
		want: []event.Event{
			want(tcp, 0x2222, "www.lab.test", "AAAA", 0, 10*ms, "NOERROR", "2001:db8::10"),
			evA,
		},
	}, {
		name: "both answers in one write",
		msgs: []msg{
			{up, framed(pack(t, qa)), 0},
			{up, framed(pack(t, qaaaa)), 5 * ms},
			{down, framed(pack(t, raaaa), pack(t, ra)), 20 * ms},
		},
		want: []event.Event{
			want(tcp, 0x2222, "www.lab.test", "AAAA", 5*ms, 20*ms, "NOERROR", "2001:db8::10"),
			evA,
		},
	}, {
		name: "answer cut short",
		msgs: []msg{{up, framed(pack(t, qa)), 0}, {down, framed(pack(t, ra))[:20], 20 * ms}},
		want: []event.Event{unanswered(tcp, 0x1111, "www.lab.test", "A", 0, "no answer")},
	}, {
		name:    "zero-length message",
		msgs:    []msg{{up, []byte{0, 0}, 0}},
		wantErr: dissect.ErrMalformed,
		want:    []event.Event{&event.Unparsed{FlowID: testMeta.FlowID, Time: t0, Dissector: "dns"}},
	}, {
		name:    "not DNS",
		msgs:    []msg{{up, []byte("\x00\x10GET / HTTP/1.1\r\n"), 0}},
		wantErr: dissect.ErrMalformed,
		want:    []event.Event{&event.Unparsed{FlowID: testMeta.FlowID, Time: t0, Dissector: "dns"}},
	}}
	for _, tt := range tests {
		for _, piece := range []int{0, 1, 3} {
			t.Run(fmt.Sprintf("%s in pieces of %d", tt.name, piece), func(t *testing.T) {
				var evs []event.Event
				d := NewTCP(testMeta, dissect.Options{}, collect(&evs))
				err := tcpFeed(d, tt.msgs, piece)
				if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
					t.Errorf("in pieces of %d: Data = %v; want %v", piece, err, tt.wantErr)
				}
				d.End(event.Up, t0.Add(time.Second))
				d.End(event.Down, t0.Add(time.Second))
				d.Close(t0.Add(time.Second))
				checkEvents(t, evs, tt.want)
			})
		}
	}
}

// TestTCPLarge: a message of 64 KiB - 1 bytes, the largest the framing
// allows, arrives in pieces.
func TestTCPLarge(t *testing.T) {
	q := newQuery(7, "big.lab.test", mdns.TypeTXT)
	r := newReply(t, q, mdns.RcodeSuccess)
	for len(pack(t, r)) < 65000 {
		rr, _ := mdns.NewRR(`big.lab.test. 60 IN TXT "` + strings.Repeat("x", 200) + `"`)
		r.Answer = append(r.Answer, rr)
	}
	r.Compress = false
	b := pack(t, r)
	if len(b) > 65535 {
		t.Fatalf("reply of %d bytes; want at most 65535", len(b))
	}
	var evs []event.Event
	d := NewTCP(testMeta, dissect.Options{}, collect(&evs))
	if err := tcpFeed(d, []msg{{event.Up, framed(pack(t, q)), 0}, {event.Down, framed(b), ms}}, 1400); err != nil {
		t.Fatal(err)
	}
	d.Close(t0)
	if len(evs) != 1 || len(evs[0].(*event.DNS).Answers) != len(r.Answer) {
		t.Errorf("events = %d, want 1 with %d answers", len(evs), len(r.Answer))
	}
}
