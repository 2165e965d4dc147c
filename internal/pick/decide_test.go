package pick

import (
	"slices"
	"testing"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/dissect/tlshello"
	"github.com/htapod/htapod/event"
)

// TestIntercept checks when a TLS flow is intercepted.
func TestIntercept(t *testing.T) {
	pinned := func(sni string) bool { return sni == "pinned.test" }
	tests := []struct {
		name        string
		allowed     bool
		sni         string
		passthrough func(string) bool
		want        bool
	}{
		{"allowed", true, "www.test", nil, true},
		{"allowed, not pinned", true, "www.test", pinned, true},
		{"pinned", true, "pinned.test", pinned, false},
		{"not allowed", false, "www.test", nil, false},
		{"no SNI", true, "", pinned, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Intercept(tt.allowed, &tlshello.Hello{SNI: tt.sni}, tt.passthrough); got != tt.want {
				t.Errorf("Intercept(%v, %q) = %v; want %v", tt.allowed, tt.sni, got, tt.want)
			}
		})
	}
}

// TestParsedHelloIsNotParsedAgain checks that a passthrough flow's event
// carries the ClientHello the relay parsed, not a second parse of the
// bytes: the parsed hello here names another server than the bytes do.
func TestParsedHelloIsNotParsedAgain(t *testing.T) {
	raw := clientHello(t)
	h, rest, err := ReadHello(nil, raw)
	if err != nil || len(rest) != len(raw) {
		t.Fatalf("ReadHello(a whole hello) = %v, %d bytes; want it parsed, %d bytes", err, len(rest), len(raw))
	}
	if h.SNI != "hello.test" {
		t.Fatalf("ReadHello SNI = %q; want hello.test", h.SNI)
	}
	h.SNI = "parsed.test"
	var evs []event.Event
	s, name := Stream(dissect.Options{})(meta("192.0.2.1:443", false, ""), raw, h, func(e event.Event) { evs = append(evs, e) })
	if name != "tls" || s == nil {
		t.Fatalf("Stream() with a parsed hello = %q; want tls", name)
	}
	s.Data(event.Up, raw, t0)
	s.Close(t0)
	if len(evs) != 1 {
		t.Fatalf("%d events; want one event.TLS", len(evs))
	}
	ev, ok := evs[0].(*event.TLS)
	if !ok || ev.SNI != "parsed.test" || !slices.Equal(ev.ALPNOffered, []string{"h2"}) || ev.Time != t0 {
		t.Errorf("event %+v; want TLS with SNI parsed.test, ALPN offered [h2], at t0", evs[0])
	}
}

// TestUpgrades checks that an HTTP/1 flow chosen here follows its
// upgrades: the WebSocket messages after a 101 are reported.
func TestUpgrades(t *testing.T) {
	var evs []event.Event
	req := "GET /ws HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
	s, name := Stream(dissect.Options{})(meta("192.0.2.1:80", false, ""), []byte(req), nil, func(e event.Event) { evs = append(evs, e) })
	if name != "http/1" {
		t.Fatalf("Stream()(%q) = %q; want http/1", req, name)
	}
	s.Data(event.Up, []byte(req+"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"), t0)
	s.Data(event.Down, []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x02ok"), t0)
	s.Close(t0)
	var got []string
	for _, e := range evs {
		if ws, ok := e.(*event.WebSocket); ok {
			got = append(got, ws.Dir.String()+" "+string(ws.Data))
		}
	}
	if want := []string{"up Hello", "down ok"}; !slices.Equal(got, want) {
		t.Errorf("WebSocket messages %q; want %q", got, want)
	}
}
