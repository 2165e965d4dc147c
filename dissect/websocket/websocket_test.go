package websocket_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/dissect/internal/dissecttest"
	"github.com/htapod/htapod/dissect/websocket"
	"github.com/htapod/htapod/event"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// frame builds a frame: head is the first byte (FIN, RSV, opcode); a
// non-nil key masks the payload, as a client must.
func frame(head byte, key []byte, payload string) string {
	b := []byte{head, 0}
	switch n := len(payload); {
	case n < 126:
		b[1] = byte(n)
	case n < 1<<16:
		b[1] = 126
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b[1] = 127
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	p := []byte(payload)
	if key != nil {
		b[1] |= 0x80
		b = append(b, key...)
		for i := range p {
			p[i] ^= key[i%4]
		}
	}
	return string(append(b, p...))
}

var key = []byte{0x37, 0xfa, 0x21, 0x3d}

const (
	fin    = 0x80
	rsv1   = 0x40
	cont   = 0x0
	text   = 0x1
	bin    = 0x2
	closeF = 0x8
	ping   = 0x9
	pong   = 0xa
)

// step is bytes one way; steps happen 1 ms apart.
type step struct {
	dir  event.Direction
	data string
}

func up(s ...string) step   { return step{event.Up, strings.Join(s, "")} }
func down(s ...string) step { return step{event.Down, strings.Join(s, "")} }

// run feeds script, each step cut by split, and returns the events
// rendered, and the first error.
func run(opts dissect.Options, script []step, split func([]byte) [][]byte) (string, error) {
	var b strings.Builder
	s := websocket.New(dissect.Meta{FlowID: 3}, opts, func(e event.Event) {
		switch e := e.(type) {
		case *event.WebSocket:
			if len(e.Data) > opts.Limits().BodyLimit {
				b.WriteString("DATA OVER LIMIT ")
			}
			fmt.Fprintf(&b, "+%dms %s %s size=%d data=%.80q truncated=%v", e.Time.Sub(t0).Milliseconds(), e.Dir, e.Opcode, e.Size, e.Data, e.Truncated)
			if e.Opcode == "close" {
				fmt.Fprintf(&b, " code=%d reason=%q", e.CloseCode, e.CloseReason)
			}
			if e.Compressed {
				fmt.Fprintf(&b, " compressed=%d", e.CompressedSize)
			}
			if e.Err != "" {
				fmt.Fprintf(&b, " err=%q", e.Err)
			}
		case *event.Unparsed:
			fmt.Fprintf(&b, "+%dms unparsed %s: %s", e.Time.Sub(t0).Milliseconds(), e.Dissector, e.Reason)
		}
		b.WriteString("\n")
	})
	steps := make([]dissecttest.Step, len(script))
	for i, st := range script {
		steps[i] = dissecttest.Step{Dir: st.dir, Data: []byte(st.data), At: t0.Add(time.Duration(i+1) * time.Millisecond)}
	}
	_, err := dissecttest.Feed(s, steps, split)
	s.Close(t0.Add(time.Second))
	return b.String(), err
}

// whole feeds each step in one piece; the other splitters must agree.
var whole = dissecttest.Whole

func TestFrames(t *testing.T) {
	big := strings.Repeat("x", 70000)
	tests := []struct {
		name   string
		opts   dissect.Options
		script []step
		want   string
		err    error
	}{{
		name:   "masked text (RFC 6455 §5.7)",
		script: []step{up("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"), down("\x81\x05\x48\x65\x6c\x6c\x6f")},
		want:   "+1ms up text size=5 data=\"Hello\" truncated=false\n+2ms down text size=5 data=\"Hello\" truncated=false\n",
	}, {
		name: "fragmented binary with a ping inside",
		script: []step{
			up(frame(bin, key, "abc"), frame(fin|ping, key, "p")),
			up(frame(cont, key, "def"), frame(fin|cont, key, "g")),
		},
		want: "+1ms up ping size=1 data=\"p\" truncated=false\n+2ms up binary size=7 data=\"abcdefg\" truncated=false\n",
	}, {
		name:   "ping pong and close 1000 bye",
		script: []step{up(frame(fin|ping, key, "hi")), down(frame(fin|pong, nil, "hi")), up(frame(fin|closeF, key, "\x03\xe8bye")), down(frame(fin|closeF, nil, "\x03\xe8bye"))},
		want: "+1ms up ping size=2 data=\"hi\" truncated=false\n+2ms down pong size=2 data=\"hi\" truncated=false\n" +
			"+3ms up close size=5 data=\"\\x03\\xe8bye\" truncated=false code=1000 reason=\"bye\"\n" +
			"+4ms down close size=5 data=\"\\x03\\xe8bye\" truncated=false code=1000 reason=\"bye\"\n",
	}, {
		name:   "close without a code",
		script: []step{down(frame(fin|closeF, nil, ""))},
		want:   "+1ms down close size=0 data=\"\" truncated=false code=1005 reason=\"\"\n",
	}, {
		name:   "empty text",
		script: []step{up(frame(fin|text, key, ""))},
		want:   "+1ms up text size=0 data=\"\" truncated=false\n",
	}, {
		name:   "beyond the body limit",
		opts:   dissect.Options{BodyLimit: 10},
		script: []step{down(frame(bin, nil, big), frame(fin|cont, nil, "tail"))},
		want:   "+1ms down binary size=70004 data=\"xxxxxxxxxx\" truncated=true\n",
	}, {
		name:   "64-bit length",
		script: []step{up(frame(fin|bin, key, strings.Repeat("y", 1<<16)))},
		want:   fmt.Sprintf("+1ms up binary size=65536 data=%.80q truncated=false\n", strings.Repeat("y", 65536)),
	}, {
		name:   "permessage-deflate (RFC 7692 §7.2.3.1)",
		script: []step{down(frame(fin|rsv1|text, nil, "\xf2\x48\xcd\xc9\xc9\x07\x00"))},
		want:   "+1ms down text size=5 data=\"Hello\" truncated=false compressed=7\n",
	}, {
		name: "permessage-deflate fragmented, then with context takeover (§7.2.3.1, §7.2.3.2)",
		script: []step{
			up(frame(rsv1|text, key, "\xf2\x48\xcd"), frame(fin|cont, key, "\xc9\xc9\x07\x00")),
			up(frame(fin|rsv1|text, key, "\xf2\x00\x11\x00\x00")),
		},
		want: "+1ms up text size=5 data=\"Hello\" truncated=false compressed=7\n" +
			"+2ms up text size=5 data=\"Hello\" truncated=false compressed=5\n",
	}, {
		name: "permessage-deflate stored block and BFINAL (§7.2.3.3, §7.2.3.4)",
		script: []step{
			down(frame(fin|rsv1|text, nil, "\x00\x05\x00\xfa\xffHello\x00")),
			down(frame(fin|rsv1|text, nil, "\xf3\x48\xcd\xc9\xc9\x07\x00\x00")),
		},
		want: "+1ms down text size=5 data=\"Hello\" truncated=false compressed=11\n" +
			"+2ms down text size=5 data=\"Hello\" truncated=false compressed=8\n",
	}, {
		name:   "permessage-deflate beyond the body limit",
		opts:   dissect.Options{BodyLimit: 3},
		script: []step{down(frame(fin|rsv1|text, nil, "\xf2\x48\xcd\xc9\xc9\x07\x00"))},
		want:   "+1ms down text size=5 data=\"Hel\" truncated=true compressed=7\n",
	}, {
		name:   "permessage-deflate broken, then nothing decoded that way",
		script: []step{down(frame(fin|rsv1|text, nil, "\xff\xff")), down(frame(fin|rsv1|text, nil, "\xf2\x48\xcd\xc9\xc9\x07\x00"))},
		want: "+1ms down text size=2 data=\"\" truncated=false compressed=2 err=\"inflate: flate: corrupt input before offset 1\"\n" +
			"+2ms down text size=7 data=\"\" truncated=false compressed=7 err=\"inflate: flate: corrupt input before offset 1\"\n",
	}, {
		name:   "unmasked client frame",
		script: []step{up(frame(fin|text, nil, "hi"))},
		err:    dissect.ErrMalformed,
		want:   "+1ms unparsed websocket: websocket up: frame from the client masked=false: malformed\n",
	}, {
		name:   "masked server frame",
		script: []step{down(frame(fin|text, key, "hi"))},
		err:    dissect.ErrMalformed,
		want:   "+1ms unparsed websocket: websocket down: frame from the server masked=true: malformed\n",
	}, {
		name:   "reserved opcode",
		script: []step{down(frame(fin|0x3, nil, ""))},
		err:    dissect.ErrMalformed,
		want:   "+1ms unparsed websocket: websocket down: reserved opcode 0x3: malformed\n",
	}, {
		name:   "fragmented ping",
		script: []step{down(frame(ping, nil, ""))},
		err:    dissect.ErrMalformed,
		want:   "+1ms unparsed websocket: websocket down: control frame 0x9 fragmented, compressed or over 125 bytes: malformed\n",
	}, {
		name:   "continuation outside a message",
		script: []step{down(frame(fin|cont, nil, "x"))},
		err:    dissect.ErrMalformed,
		want:   "+1ms unparsed websocket: websocket down: continuation frame outside a message: malformed\n",
	}, {
		name:   "message inside a message",
		script: []step{down(frame(text, nil, "a"), frame(fin|text, nil, "b"))},
		err:    dissect.ErrMalformed,
		want:   "+1ms unparsed websocket: websocket down: new message before the end of a fragmented one: malformed\n",
	}, {
		name:   "1-byte close",
		script: []step{down(frame(fin|closeF, nil, "\x03"))},
		err:    dissect.ErrMalformed,
		want:   "+1ms unparsed websocket: websocket down: close frame with a 1-byte body: malformed\n",
	}, {
		name:   "HTTP instead of frames",
		script: []step{up("GET / HTTP/1.1\r\n\r\n")},
		err:    dissect.ErrMalformed,
		want:   "+1ms unparsed websocket: websocket up: frame from the client masked=false: malformed\n",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := run(tc.opts, tc.script, whole)
			if got != tc.want || !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Errorf("events:\n%s(error %v)\nwant:\n%s(error %v)", got, err, tc.want, tc.err)
			}
			for _, sp := range dissecttest.Splitters(1, 9)[1:] {
				if got2, err2 := run(tc.opts, tc.script, sp.Split); got2 != got || fmt.Sprint(err2) != fmt.Sprint(err) {
					t.Errorf("fed %s:\n%s(error %v)\nwant (fed whole):\n%s(error %v)", sp.Name, got2, err2, got, err)
				}
			}
		})
	}
}

// TestBoundedMemory streams a 256 MiB message: it is counted, with at
// most the body limit kept.
func TestBoundedMemory(t *testing.T) {
	var ev *event.WebSocket
	s := websocket.New(dissect.Meta{}, dissect.Options{BodyLimit: 100}, func(e event.Event) { ev = e.(*event.WebSocket) })
	const size = 256 << 20
	hdr := []byte(frame(fin|bin, nil, "")[:1] + "\x7f")
	hdr = binary.BigEndian.AppendUint64(hdr, size)
	if err := s.Data(event.Down, hdr, t0); err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte{'z'}, 1<<20)
	for range size >> 20 {
		if err := s.Data(event.Down, chunk, t0); err != nil {
			t.Fatal(err)
		}
	}
	if ev == nil || ev.Size != size || len(ev.Data) != 100 || !ev.Truncated {
		t.Fatalf("event %+v; want size %d, 100 bytes of data, truncated", ev, size)
	}
}
