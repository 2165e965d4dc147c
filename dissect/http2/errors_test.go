package http2

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
	"golang.org/x/net/http2"
)

// TestGoldenWire dissects bytes written by hand, independent of the
// Framer and encoder the other tests use: the request header block is
// RFC 7541 appendix C.4.1 (Huffman-coded, www.example.com).
func TestGoldenWire(t *testing.T) {
	const (
		settings = "\x00\x00\x00\x04\x00\x00\x00\x00\x00"
		// HEADERS, END_STREAM|END_HEADERS, stream 1: :method GET,
		// :scheme http, :path /, :authority www.example.com.
		request = "\x00\x00\x11\x01\x05\x00\x00\x00\x01" +
			"\x82\x86\x84\x41\x8c\xf1\xe3\xc2\xe5\xf2\x3a\x6b\xa0\xab\x90\xf4\xff"
		// HEADERS, END_HEADERS, stream 1: :status 200 (static index 8).
		response = "\x00\x00\x01\x01\x04\x00\x00\x00\x01\x88"
		// DATA, END_STREAM, stream 1: "hi".
		data = "\x00\x00\x02\x00\x01\x00\x00\x00\x01hi"
	)
	tc := dissectTest{
		build: func(c *conv) {
			c.client.raw([]byte(settings + request))
			c.server.raw([]byte(settings + response + data))
		},
		want: []string{
			"1 request GET http://www.example.com/",
			"1 response 200",
			"1 done 200 req=0/0 resp=2/2",
		},
	}
	for _, f := range feedings {
		if got := lines(tc.run(t, f).evs); !slices.Equal(got, tc.want) {
			t.Errorf("%s: events %q; want %q", f.name, got, tc.want)
		}
	}
}

// TestErrors checks that broken conversations end in one Unparsed event
// and an error of the right kind, and that the exchanges open at that
// point are done.
func TestErrors(t *testing.T) {
	tests := []struct {
		name    string
		opts    dissect.Options
		build   func(c *conv)
		wantErr error
		// wantDone are the streams ended because dissection stopped.
		wantDone []uint32
	}{{
		name:    "DATA on stream 0",
		build:   func(c *conv) { c.client.data(0, false, []byte("x")) },
		wantErr: dissect.ErrMalformed,
	}, {
		name: "invalid HPACK index",
		build: func(c *conv) {
			c.get(1, "/")
			c.client.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: []byte{0xff, 0x7f}, EndHeaders: true})
			c.client.flush(nil)
		},
		wantErr:  dissect.ErrMalformed,
		wantDone: []uint32{1},
	}, {
		name: "header block cut short",
		build: func(c *conv) {
			blk := c.client.block(":method", "GET", "x-long", "0123456789")
			c.client.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk[:len(blk)-3], EndHeaders: true})
			c.client.flush(nil)
		},
		wantErr: dissect.ErrMalformed,
	}, {
		name: "header list too large",
		opts: dissect.Options{MaxHeaderBytes: 1024},
		build: func(c *conv) {
			c.get(1, "/", "x-a", strings.Repeat("a", 500), "x-b", strings.Repeat("b", 500))
		},
		wantErr: dissect.ErrTooLarge,
	}, {
		name:    "header field too large",
		opts:    dissect.Options{MaxHeaderBytes: 1024},
		build:   func(c *conv) { c.get(1, "/", "x-a", strings.Repeat("a", 2000)) },
		wantErr: dissect.ErrTooLarge,
	}, {
		name: "frame over SETTINGS_MAX_FRAME_SIZE",
		build: func(c *conv) {
			c.client.headers(1, false, ":method", "POST", ":path", "/")
			c.client.data(1, true, make([]byte, defaultMaxFrameSize+1))
		},
		wantErr:  dissect.ErrMalformed,
		wantDone: []uint32{1},
	}, {
		name:    "CONTINUATION without HEADERS",
		build:   func(c *conv) { c.client.flush(c.client.fr.WriteContinuation(1, true, []byte{0x82})) },
		wantErr: dissect.ErrMalformed,
	}, {
		name: "frame inside a header block",
		build: func(c *conv) {
			c.client.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0x82}})
			c.client.flush(nil)
			c.client.settings()
		},
		wantErr: dissect.ErrMalformed,
	}, {
		name:    "PUSH_PROMISE from the client",
		build:   func(c *conv) { c.client.push(1, 2, ":method", "GET") },
		wantErr: dissect.ErrMalformed,
	}, {
		name:    "client stream with an even ID",
		build:   func(c *conv) { c.get(2, "/") },
		wantErr: dissect.ErrMalformed,
	}, {
		name:    "invalid SETTINGS_MAX_FRAME_SIZE",
		build:   func(c *conv) { c.server.settings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 100}) },
		wantErr: dissect.ErrMalformed,
	}, {
		name: "dynamic table larger than allowed",
		build: func(c *conv) {
			c.get(1, "/")
			c.server.enc.SetMaxDynamicTableSizeLimit(8192)
			c.server.enc.SetMaxDynamicTableSize(8192)
			c.server.headers(1, true, ":status", "200")
		},
		wantErr:  dissect.ErrMalformed,
		wantDone: []uint32{1},
	}, {
		name:    "no preface",
		build:   func(c *conv) { c.chunks[0].b = []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n") },
		wantErr: dissect.ErrNotProtocol,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, f := range feedings {
				c := newConv(t, true)
				tc.build(c)
				var s dissect.Stream
				emitted := 0
				res := dissectChunks(t, c.chunks, f, func(emit dissect.Emit) dissect.Stream {
					s = New(testMeta, tc.opts, func(ev event.Event) { emitted++; emit(ev) })
					return s
				})
				if !errors.Is(res.err, tc.wantErr) {
					t.Fatalf("%s: error %v; want %v", f.name, res.err, tc.wantErr)
				}
				var done []uint32
				unparsed := 0
				for _, ev := range res.evs {
					switch ev := ev.(type) {
					case *event.Unparsed:
						unparsed++
						if ev.Dissector != "h2c" || ev.FlowID != testMeta.FlowID || ev.Reason == "" {
							t.Errorf("%s: Unparsed = %+v; want h2c, flow 7, a reason", f.name, ev)
						}
					case *event.HTTP:
						if ev.Phase == event.PhaseDone {
							done = append(done, ev.Seq)
							if !strings.HasPrefix(ev.Err, "dissector stopped: ") {
								t.Errorf("%s: stream %d Err = %q; want dissector stopped", f.name, ev.Seq, ev.Err)
							}
						}
					}
				}
				if unparsed != 1 || !slices.Equal(done, tc.wantDone) {
					t.Errorf("%s: %d Unparsed, done %v; want 1, %v", f.name, unparsed, done, tc.wantDone)
				}
				// After an error, Data keeps failing and emits nothing.
				n := emitted
				if err := s.Data(event.Up, []byte{0, 0, 0, 4, 0, 0, 0, 0, 0}, time.Time{}); !errors.Is(err, tc.wantErr) {
					t.Errorf("%s: Data after the error = %v; want %v", f.name, err, tc.wantErr)
				}
				if emitted != n {
					t.Errorf("%s: events after the error", f.name)
				}
			}
		})
	}
}
