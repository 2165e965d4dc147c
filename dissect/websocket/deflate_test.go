package websocket_test

import (
	"bytes"
	"compress/flate"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/dissect/internal/dissecttest"
	"github.com/htapod/htapod/dissect/websocket"
	"github.com/htapod/htapod/event"
)

// compressor is a permessage-deflate sender (RFC 7692 §7.2.1): each
// message is flushed, its trailing 0x00 0x00 0xff 0xff removed; with
// takeover the flate stream goes on across messages.
type compressor struct {
	tb       testing.TB
	takeover bool
	buf      bytes.Buffer
	w        *flate.Writer
}

func (c *compressor) message(msg string) string {
	c.tb.Helper()
	if c.w == nil || !c.takeover {
		c.buf.Reset()
		w, err := flate.NewWriter(&c.buf, flate.BestCompression)
		if err != nil {
			c.tb.Fatal(err)
		}
		c.w = w
	}
	c.buf.Reset()
	if _, err := c.w.Write([]byte(msg)); err != nil {
		c.tb.Fatal(err)
	}
	if err := c.w.Flush(); err != nil {
		c.tb.Fatal(err)
	}
	out := c.buf.String()
	if !strings.HasSuffix(out, "\x00\x00\xff\xff") {
		c.tb.Fatalf("flush ended %q; want 00 00 ff ff", out[max(len(out)-4, 0):])
	}
	return out[:len(out)-4]
}

// TestDeflateStream sends messages that refer back to earlier ones (and
// to more than a window ago) both ways, with and without context
// takeover, fragmented and fed at every split: each is inflated whole.
func TestDeflateStream(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("alpha beta gamma delta subscribe ticker price 42 {\"id\":7} ✓")
	var msgs []string
	for i := range 12 {
		var b strings.Builder
		n := 5 + r.IntN(40)
		if i == 6 {
			n = 9000 // over the 32 KiB window
		}
		for range n {
			b.WriteString(words[r.IntN(len(words))] + " ")
		}
		msgs = append(msgs, b.String())
	}
	msgs = append(msgs, msgs[1], msgs[0]+msgs[2]) // back-references into the window

	for _, tc := range []struct {
		name      string
		takeover  bool
		extension string
	}{
		{"context takeover", true, "permessage-deflate; client_max_window_bits=15"},
		{"no context takeover", false, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"takeover without a handshake", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cu := &compressor{tb: t, takeover: tc.takeover}
			cd := &compressor{tb: t, takeover: tc.takeover}
			var script []step
			for i, m := range msgs {
				zu, zd := cu.message(m), cd.message(m)
				half := len(zu) / 2
				script = append(script,
					up(frame(rsv1|text, key, zu[:half]), frame(fin|cont, key, zu[half:])),
					down(frame(fin|rsv1|text, nil, zd)))
				if i == 3 { // an uncompressed message leaves the stream alone
					script = append(script, down(frame(fin|text, nil, "plain")))
				}
			}
			d := websocket.ParseExtensions([]string{tc.extension})
			for _, sp := range dissecttest.Splitters(2, 9) {
				name, split := sp.Name, sp.Split
				var got []string
				s := websocket.NewDeflate(dissect.Meta{}, dissect.Options{BodyLimit: 1 << 20}, func(e event.Event) {
					w, ok := e.(*event.WebSocket)
					if !ok {
						t.Fatalf("event %+v", e)
					}
					if w.Err != "" {
						t.Fatalf("message %d: %s", len(got), w.Err)
					}
					got = append(got, string(w.Data))
				}, d)
				steps := make([]dissecttest.Step, len(script))
				for i, st := range script {
					steps[i] = dissecttest.Step{Dir: st.dir, Data: []byte(st.data), At: t0}
				}
				if _, err := dissecttest.Feed(s, steps, split); err != nil {
					t.Fatal(err)
				}
				var wantMsgs []string
				for i, m := range msgs {
					wantMsgs = append(wantMsgs, m, m)
					if i == 3 {
						wantMsgs = append(wantMsgs, "plain")
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(wantMsgs) {
					t.Errorf("fed %s: got %d messages, want %d; first difference at %d", name, len(got), len(wantMsgs), firstDiff(got, wantMsgs))
				}
			}
		})
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestParseExtensions(t *testing.T) {
	tests := []struct {
		in   []string
		want websocket.Deflate
	}{
		{nil, websocket.Deflate{}},
		{[]string{"x-webkit-deflate-frame"}, websocket.Deflate{}},
		{[]string{"permessage-deflate"}, websocket.Deflate{Enabled: true}},
		{[]string{"permessage-deflate; server_no_context_takeover; client_max_window_bits=10"},
			websocket.Deflate{Enabled: true, ServerNoContextTakeover: true, ClientMaxWindowBits: 10}},
		{[]string{"foo, Permessage-Deflate ; client_no_context_takeover ; server_max_window_bits=\"12\""},
			websocket.Deflate{Enabled: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 12}},
	}
	for _, tc := range tests {
		if got := websocket.ParseExtensions(tc.in); got != tc.want {
			t.Errorf("ParseExtensions(%q) = %+v; want %+v", tc.in, got, tc.want)
		}
	}
}
