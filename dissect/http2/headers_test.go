package http2

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
	"golang.org/x/net/http2"
)

// headerTests are conversations of whole exchanges; the fuzz seeds are made
// of them too.
func headerTests() []dissectTest {
	big := strings.Repeat("a", 1000)
	return []dissectTest{{
		name: "CONTINUATION",
		build: func(c *conv) {
			c.client.headersSplit(1, true, 0, 3, ":method", "GET", ":scheme", "https", ":authority", "example.com",
				":path", "/c", "x-big", big, "cookie", "a=1", "cookie", "b=2")
			c.server.headersSplit(1, false, 4, 4, ":status", "200", "x-big", big+"b")
			c.server.data(1, true, []byte("done"))
		},
		want: []string{
			"1 request GET https://example.com/c",
			"1 response 200",
			"1 done 200 req=0/0 resp=4/4",
		},
		check: func(t *testing.T, evs []event.Event) {
			done := httpEvent(t, evs, 1, event.PhaseDone)
			want := []event.Header{{Name: "x-big", Value: big}, {Name: "cookie", Value: "a=1"}, {Name: "cookie", Value: "b=2"}}
			if !reflect.DeepEqual(done.ReqHeader, want) {
				t.Errorf("ReqHeader = %.80v; want %.80v", done.ReqHeader, want)
			}
			if got := headerValue(done.RespHeader, "x-big"); got != big+"b" {
				t.Errorf("response x-big has %d bytes; want %d", len(got), len(big)+1)
			}
		},
	}, {
		name: "dynamic table size updates",
		build: func(c *conv) {
			// The client allows a 16 KiB table; the server's encoder grows
			// to it, fills it, then shrinks it to nothing (RFC 7541
			// section 6.3).
			c.client.settings(http2.Setting{ID: http2.SettingHeaderTableSize, Val: 16384})
			c.server.settings()
			c.server.enc.SetMaxDynamicTableSizeLimit(16384)
			c.server.enc.SetMaxDynamicTableSize(16384)
			// The client's encoder shrinks within the default 4096.
			c.client.enc.SetMaxDynamicTableSize(1024)
			for i, size := range []uint32{16384, 16384, 0, 2048} {
				id := uint32(2*i + 1)
				c.get(id, fmt.Sprintf("/%d", i), "x-request", strings.Repeat("r", 100))
				c.server.enc.SetMaxDynamicTableSize(size)
				c.server.headers(id, true, ":status", "200", "x-repeated", strings.Repeat("v", 1500),
					"x-seq", fmt.Sprint(i))
			}
		},
		want: []string{
			"1 request GET https://example.com/0", "1 response 200", "1 done 200 req=0/0 resp=0/0",
			"3 request GET https://example.com/1", "3 response 200", "3 done 200 req=0/0 resp=0/0",
			"5 request GET https://example.com/2", "5 response 200", "5 done 200 req=0/0 resp=0/0",
			"7 request GET https://example.com/3", "7 response 200", "7 done 200 req=0/0 resp=0/0",
		},
		check: func(t *testing.T, evs []event.Event) {
			for i, id := range []uint32{1, 3, 5, 7} {
				h := httpEvent(t, evs, id, event.PhaseDone)
				if got := headerValue(h.RespHeader, "x-repeated"); len(got) != 1500 {
					t.Errorf("stream %d: x-repeated has %d bytes; want 1500", id, len(got))
				}
				if got := headerValue(h.RespHeader, "x-seq"); got != fmt.Sprint(i) {
					t.Errorf("stream %d: x-seq = %q; want %d", id, got, i)
				}
				if got := headerValue(h.ReqHeader, "x-request"); len(got) != 100 {
					t.Errorf("stream %d: x-request has %d bytes; want 100", id, len(got))
				}
			}
		},
	}}
}

func TestHeaderBlocks(t *testing.T) { runTests(t, headerTests()) }

// TestConcurrentStreams interleaves 100 streams: all requests first, the
// response heads in reverse order, then the bodies round-robin.
func TestConcurrentStreams(t *testing.T) {
	const n = 100
	id := func(i int) uint32 { return uint32(2*i + 1) }
	size := func(i int) int { return 30 * (i + 1) }
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("%d request POST https://example.com/s/%d", id(i), i))
	}
	for i := n - 1; i >= 0; i-- {
		want = append(want, fmt.Sprintf("%d response %d", id(i), 200+i%3))
	}
	for i := range n {
		want = append(want, fmt.Sprintf("%d done %d req=%d/%d resp=%d/%d", id(i), 200+i%3, i, i, size(i), size(i)))
	}
	runTests(t, []dissectTest{{
		name: "100 streams",
		build: func(c *conv) {
			c.open()
			for i := range n {
				c.client.headers(id(i), false, ":method", "POST", ":scheme", "https", ":authority", "example.com",
					":path", fmt.Sprintf("/s/%d", i), "content-length", fmt.Sprint(i))
			}
			for i := range n {
				c.client.data(id(i), true, []byte(strings.Repeat("q", i)))
			}
			for i := n - 1; i >= 0; i-- {
				c.server.headers(id(i), false, ":status", fmt.Sprint(200+i%3), "content-type", "text/plain")
			}
			for part := range 3 {
				for i := range n {
					b := []byte(strings.Repeat(string(rune('a'+i%26)), size(i)/3))
					c.server.data(id(i), part == 2, b)
				}
			}
		},
		want: want,
		check: func(t *testing.T, evs []event.Event) {
			for i := range n {
				b := httpEvent(t, evs, id(i), event.PhaseDone).RespBody
				if want := strings.Repeat(string(rune('a'+i%26)), size(i)); string(b.Data) != want {
					t.Fatalf("stream %d: body %.20q…; want %.20q…", id(i), b.Data, want)
				}
			}
		},
	}})
}

// TestOpenStreamsBound checks that a connection opening more than
// maxOpenStreams streams is given up with ErrTooLarge, not followed
// without bound.
func TestOpenStreamsBound(t *testing.T) {
	c := newConv(t, true)
	for i := range maxOpenStreams + 1 {
		c.get(uint32(2*i+1), "/")
	}
	res := dissectChunks(t, c.chunks, feedings[0], func(emit dissect.Emit) dissect.Stream {
		return New(testMeta, dissect.Options{}, emit)
	})
	if !errors.Is(res.err, dissect.ErrTooLarge) {
		t.Fatalf("error %v; want ErrTooLarge", res.err)
	}
	// The Unparsed event, then the Done of each open stream.
	if got := len(res.evs); got != 2*maxOpenStreams+1 {
		t.Fatalf("%d events; want %d", got, 2*maxOpenStreams+1)
	}
}
