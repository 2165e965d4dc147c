package tlshello

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
)

var (
	testMeta = dissect.Meta{
		FlowID: 7,
		Proto:  event.TCP,
		Src:    netip.MustParseAddrPort("10.0.0.2:40000"),
		Dst:    netip.MustParseAddrPort("192.0.2.10:443"),
	}
	t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

// testStream is a passthrough dissector and the events it emitted.
type testStream struct {
	dissect.Stream
	events []event.Event
}

func newTestStream(tb testing.TB) *testStream {
	tb.Helper()
	ts := new(testStream)
	ts.Stream = New(testMeta, dissect.Options{}, func(e event.Event) { ts.events = append(ts.events, e) })
	return ts
}

// feed gives the dissector log, chunk i at t0+i seconds, each chunk in
// pieces of at most piece bytes (0: whole), then closes it.
func (ts *testStream) feed(tb testing.TB, log []chunk, piece int) {
	tb.Helper()
	for i, c := range log {
		t := t0.Add(time.Duration(i) * time.Second)
		for b := c.b; len(b) > 0; {
			n := len(b)
			if piece > 0 {
				n = min(n, piece)
			}
			if err := ts.Data(c.dir, b[:n], t); err != nil {
				tb.Fatalf("Data(chunk %d) = %v", i, err)
			}
			b = b[n:]
		}
	}
	ts.Close(t0.Add(time.Hour))
}

// checkHandshake feeds log whole and byte by byte and checks the event.
// With live, a ChaCha20 suite stands for the AES one wanted: crypto/tls
// prefers it on machines without AES hardware.
func checkHandshake(t *testing.T, log []chunk, want event.TLS, live bool) {
	t.Helper()
	want.FlowID, want.Server, want.Time = testMeta.FlowID, testMeta.Dst, t0
	for _, piece := range []int{0, 1, 7} {
		ts := newTestStream(t)
		ts.feed(t, log, piece)
		if len(ts.events) == 1 && live {
			if e, ok := ts.events[0].(*event.TLS); ok && strings.Contains(e.CipherSuite, "CHACHA20") {
				e.CipherSuite = want.CipherSuite
			}
		}
		if len(ts.events) != 1 || !reflect.DeepEqual(ts.events[0], &want) {
			t.Errorf("in pieces of %d: events = %s; want %+v", piece, dump(ts.events), want)
		}
	}
}

func TestStreamCryptoTLS(t *testing.T) {
	ts := newTestServer(t)
	for _, tc := range handshakeCases {
		t.Run(tc.name, func(t *testing.T) {
			log := handshake(t, tc.client(ts), tc.server(ts))
			checkHandshake(t, log, tc.want, true)
			if *update {
				writeTranscript(t, tc.name+".txt", log)
			}
		})
	}
}

func TestStreamGolden(t *testing.T) {
	for _, tc := range handshakeCases {
		t.Run(tc.name, func(t *testing.T) {
			checkHandshake(t, readTranscript(t, tc.name+".txt"), tc.want, false)
		})
	}
}

// step is one call in a scripted flow: Data, or End when end is set.
type step struct {
	dir     event.Direction
	b       []byte
	end     bool
	wantErr error
}

// serverHelloRecord returns a ServerHello record with exts.
func serverHelloRecord(exts ...ext) []byte {
	h := baseHello()
	h.exts = exts
	return records(handshakeMsg(typeServerHello, h.serverBody()))
}

func TestStream(t *testing.T) {
	hello := baseHello().bytes()
	up, down := event.Up, event.Down
	known := &event.TLS{FlowID: 7, Time: t0, Server: testMeta.Dst, SNI: "lab.test", ALPNOffered: []string{"h2", "http/1.1"},
		VersionsOffered: []string{"TLS 1.3", "TLS 1.2"}}
	with := func(version, alpn string) *event.TLS {
		e := *known
		e.Version, e.ALPN, e.CipherSuite = version, alpn, "TLS_AES_128_GCM_SHA256"
		return &e
	}
	later := with("TLS 1.2", "h2")
	later.Time = t0.Add(time.Second)
	unparsed := &event.Unparsed{FlowID: 7, Dissector: "tls"} // Time and Reason checked apart
	tests := []struct {
		name  string
		steps []step
		want  []event.Event
	}{
		{"TLS 1.3 ServerHello", []step{{dir: up, b: hello}, {dir: down, b: serverHelloRecord(ext{extSupportedVersions, []byte{3, 4}})}}, []event.Event{with("TLS 1.3", "")}},
		{"TLS 1.2 ServerHello with ALPN", []step{{dir: up, b: hello}, {dir: down, b: serverHelloRecord(alpnExt("h2"))}}, []event.Event{with("TLS 1.2", "h2")}},
		{"ServerHello without extensions", []step{{dir: up, b: hello}, {dir: down, b: serverHelloRecord()}}, []event.Event{with("TLS 1.2", "")}},
		{"server's bytes first", []step{{dir: down, b: serverHelloRecord(alpnExt("h2"))}, {dir: up, b: hello}}, []event.Event{later}},
		{"close before ServerHello", []step{{dir: up, b: hello}, {dir: down, b: serverHelloRecord()[:20]}}, []event.Event{known}},
		{"server ends", []step{{dir: up, b: hello}, {dir: down, end: true}}, []event.Event{known}},
		{"server alert", []step{{dir: up, b: hello}, {dir: down, b: record(21, []byte{2, 112})}}, []event.Event{known}},
		{"malformed ServerHello", []step{{dir: up, b: hello}, {dir: down, b: records(handshakeMsg(typeServerHello, []byte{3, 3})), wantErr: dissect.ErrMalformed}}, []event.Event{known, unparsed}},
		{"two ALPN protocols selected", []step{{dir: up, b: hello}, {dir: down, b: serverHelloRecord(alpnExt("h2", "http/1.1")), wantErr: dissect.ErrMalformed}}, []event.Event{known, unparsed}},
		{"bad selected_version", []step{{dir: up, b: hello}, {dir: down, b: serverHelloRecord(ext{extSupportedVersions, []byte{3, 4, 0}}), wantErr: dissect.ErrMalformed}}, []event.Event{known, unparsed}},
		{"not TLS", []step{{dir: up, b: []byte("GET / HTTP/1.1\r\n"), wantErr: dissect.ErrNotProtocol}, {dir: up, b: hello}}, []event.Event{unparsed}},
		{"incomplete at close", []step{{dir: up, b: hello[:100]}}, []event.Event{unparsed}},
		{"server floods first", []step{{dir: down, b: make([]byte, MaxLen)}, {dir: down, b: []byte{1}, wantErr: dissect.ErrTooLarge}}, []event.Event{unparsed}},
		{"rest ignored", []step{{dir: up, b: hello}, {dir: down, b: serverHelloRecord()}, {dir: up, b: []byte("junk")}, {dir: down, b: []byte("junk")}}, []event.Event{with("TLS 1.2", "")}},
		{"nothing", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestStream(t)
			for i, s := range tt.steps {
				if s.end {
					ts.End(s.dir, t0)
					continue
				}
				if err := ts.Data(s.dir, s.b, t0.Add(time.Duration(i)*time.Second)); !errors.Is(err, s.wantErr) || (err != nil) != (s.wantErr != nil) {
					t.Fatalf("step %d: Data = %v; want %v", i, err, s.wantErr)
				}
			}
			ts.Close(t0.Add(time.Minute))
			ts.Close(t0.Add(time.Hour)) // a second Close emits nothing
			for _, e := range ts.events {
				if u, ok := e.(*event.Unparsed); ok {
					if u.Reason == "" || u.Time.IsZero() {
						t.Errorf("Unparsed = %+v; want Reason and Time", u)
					}
					u.Reason, u.Time = "", time.Time{}
				}
			}
			if !reflect.DeepEqual(ts.events, tt.want) {
				t.Errorf("events = %s; want %s", dump(ts.events), dump(tt.want))
			}
		})
	}
}

// dump formats events for failure messages.
func dump(evs []event.Event) string {
	s := "["
	for _, e := range evs {
		s += " " + strings.TrimPrefix(fmt.Sprintf("%+v", e), "&")
	}
	return s + " ]"
}
