package http1_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/dissect/http1"
	"github.com/htapod/htapod/event"
)

// fakeH2 records what the HTTP/1 dissector hands to H2C.
type fakeH2 struct {
	up, down strings.Builder
	ends     []event.Direction
	closed   bool
}

func (f *fakeH2) Data(dir event.Direction, b []byte, _ time.Time) error {
	if dir == event.Up {
		f.up.Write(b)
	} else {
		f.down.Write(b)
	}
	return nil
}

func (f *fakeH2) End(dir event.Direction, _ time.Time) { f.ends = append(f.ends, dir) }
func (f *fakeH2) Close(time.Time)                      { f.closed = true }

// fakeH2C returns an Upgrade that makes fakes for h2c, recorded in *got.
func fakeH2C(got *[]*fakeH2) http1.Upgrade {
	return func(proto string, _ dissect.Meta, _ dissect.Options, _ dissect.Emit) dissect.Stream {
		if proto != "h2c" {
			return nil
		}
		f := new(fakeH2)
		*got = append(*got, f)
		return f
	}
}

// TestH2CHandoff checks what the h2c dissector gets after an Upgrade to
// h2c (also when the upgrade request has a body).
func TestH2CHandoff(t *testing.T) {
	const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	const settings = "\x00\x00\x00\x04\x00\x00\x00\x00\x00"
	upgradeReq := "POST /up HTTP/1.1\r\nHost: example.test\r\nConnection: Upgrade, HTTP2-Settings\r\n" +
		"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nContent-Length: 4\r\n\r\n"
	tests := []struct {
		name         string
		script       []step
		up, down     string
		wantHTTPDone int
	}{
		{"upgrade", []step{up(upgradeReq + "body"), down("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n" + settings), up(preface + settings), endUp},
			preface + settings, settings, 1},
		{"101 before the request body ends", []step{up(upgradeReq + "bo"), down("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n" + settings), up("dy" + preface)},
			preface, settings, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, sp := range splitters() {
				var fakes []*fakeH2
				evs, err := runUpgrading(t, testMeta, dissect.Options{}, fakeH2C(&fakes), tc.script, sp.Split)
				if err != nil {
					t.Fatalf("fed %s: %v", sp.Name, err)
				}
				if len(fakes) != 1 {
					t.Fatalf("fed %s: the h2c dissector made %d times; want once", sp.Name, len(fakes))
				}
				f := fakes[0]
				if f.up.String() != tc.up || f.down.String() != tc.down || !f.closed {
					t.Errorf("fed %s: the h2c dissector got up %q down %q closed %v; want %q %q true", sp.Name, f.up.String(), f.down.String(), f.closed, tc.up, tc.down)
				}
				dones := 0
				for _, e := range evs {
					if h, ok := e.(*event.HTTP); ok && h.Phase == event.PhaseDone {
						dones++
						if h.Upgrade != "h2c" || h.Status != 101 || h.Err != "" || h.ReqBody.Size != 4 {
							t.Errorf("fed %s: done %+v; want upgrade h2c, 101, a 4-byte request body", sp.Name, h)
						}
					}
				}
				if dones != tc.wantHTTPDone {
					t.Errorf("fed %s: %d exchanges done; want %d", sp.Name, dones, tc.wantHTTPDone)
				}
			}
		})
	}
}

// TestEarlyWebSocketFrames checks that frames a client sends before the
// 101 arrives reach the WebSocket dissector, and that what a client sends
// before the answer to CONNECT is bounded.
func TestEarlyWebSocketFrames(t *testing.T) {
	script := []step{
		up("GET /ws HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n" +
			"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"),
		down("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x02ok"),
	}
	got := runAll(t, testMeta, dissect.Options{}, script)
	if !strings.Contains(got, `websocket +1ms up text size=5 data="Hello"`) || !strings.Contains(got, `websocket +2ms down text size=2 data="ok"`) {
		t.Errorf("events:\n%s\nwant the early Hello and the server's ok", got)
	}

	connect := []step{up("CONNECT example.test:443 HTTP/1.1\r\n\r\n" + strings.Repeat("\x17", 5000))}
	evs, err := run(t, testMeta, dissect.Options{MaxHeaderBytes: 4096}, connect, splitters()[0].Split)
	if !errors.Is(err, dissect.ErrTooLarge) {
		t.Errorf("5000 bytes before the answer to CONNECT: %v; want ErrTooLarge\n%s", err, render(evs, nil))
	}
}
