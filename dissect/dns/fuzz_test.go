package dns

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
)

// update rewrites the seed corpora in testdata/fuzz from udpCases:
//
//	go test ./dissect/dns -run Seeds -update
var update = flag.Bool("update", false, "rewrite testdata/fuzz seed corpora")

func TestSeeds(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite the seed corpora")
	}
	for i, tc := range udpCases(t) {
		var stream []byte
		for j, m := range tc.msgs {
			writeSeed(t, "FuzzUDP", fmt.Sprintf("case%02d-%d", i, j), m.b)
			stream = append(stream, framed(m.b)...)
		}
		writeSeed(t, "FuzzTCP", fmt.Sprintf("case%02d", i), stream)
	}
}

// writeSeed writes b as a seed of fuzz target fuzz.
func writeSeed(tb testing.TB, fuzz, name string, b []byte) {
	tb.Helper()
	dir := filepath.Join("testdata", "fuzz", fuzz)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	s := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// checkFuzzEvents checks what any input may make: DNS events, and at
// most one Unparsed, only after an error.
func checkFuzzEvents(t *testing.T, evs []event.Event, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, dissect.ErrMalformed) {
		t.Fatalf("error %v does not wrap ErrMalformed", err)
	}
	unparsed := 0
	for _, e := range evs {
		switch e.(type) {
		case *event.DNS:
		case *event.Unparsed:
			unparsed++
		default:
			t.Fatalf("event %T", e)
		}
	}
	if unparsed > 1 || (unparsed == 1) != (err != nil) {
		t.Fatalf("%d Unparsed events after error %v", unparsed, err)
	}
}

// FuzzUDP feeds b as a datagram each way. When b is a query that
// miekg/dns can answer, the answer must be matched to it.
func FuzzUDP(f *testing.F) {
	f.Add([]byte{0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'w', 'w', 0, 0, 1, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var evs []event.Event
		d := NewUDP(testMeta, dissect.Options{}, collect(&evs))
		err := d.Datagram(event.Up, b, t0)
		if err == nil {
			err = d.Datagram(event.Down, b, t0.Add(ms))
		}
		d.Close(t0.Add(time.Second))
		checkFuzzEvents(t, evs, err)

		q := new(mdns.Msg)
		if q.Unpack(b) != nil || q.Response {
			return
		}
		r := new(mdns.Msg)
		r.SetReply(q)
		rb, perr := r.Pack()
		if perr != nil {
			return
		}
		evs = nil
		d = NewUDP(testMeta, dissect.Options{}, collect(&evs))
		if err := d.Datagram(event.Up, b, t0); err != nil {
			t.Fatalf("query: %v", err)
		}
		if err := d.Datagram(event.Down, rb, t0.Add(ms)); err != nil {
			t.Fatalf("answer: %v", err)
		}
		if len(evs) != 1 || evs[0].(*event.DNS).Rcode == "" {
			t.Fatalf("answered query: events %s", dump(evs))
		}
	})
}

// FuzzTCP feeds b as the stream of each direction, in pieces.
func FuzzTCP(f *testing.F) {
	f.Add([]byte{0, 21, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'w', 'w', 0, 0, 1, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var evs []event.Event
		d := NewTCP(testMeta, dissect.Options{}, collect(&evs))
		err := tcpFeed(d, []msg{{event.Up, b, 0}}, len(b)/3+1)
		if err == nil {
			err = tcpFeed(d, []msg{{event.Down, b, ms}}, 7)
		}
		d.End(event.Up, t0)
		d.Close(t0.Add(time.Second))
		checkFuzzEvents(t, evs, err)
	})
}
