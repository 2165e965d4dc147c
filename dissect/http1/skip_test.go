package http1_test

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/dissect/http1"
	"github.com/htapod/htapod/event"
)

// feedSkipping feeds script as the relay does when the dissector may skip
// (dissect.Skipper): each step in 4 KiB pieces, and of each piece the
// bytes that Skippable allows go to Skip, the rest to Data. It returns
// the events and how many bytes were skipped.
func feedSkipping(t *testing.T, opts dissect.Options, script []step, skip bool) ([]event.Event, int64) {
	t.Helper()
	var evs []event.Event
	s := http1.New(testMeta, opts, func(e event.Event) { evs = append(evs, e) })
	sk := s.(dissect.Skipper)
	var skipped int64
	at := t0
	for i, st := range script {
		at = t0.Add(time.Duration(i+1) * time.Millisecond)
		if st.end {
			s.End(st.dir, at)
			continue
		}
		for p := range slicesChunk([]byte(st.data), 4<<10) {
			for len(p) > 0 {
				if n := sk.Skippable(st.dir); skip && n > 0 {
					k := int(min(n, int64(len(p))))
					sk.Skip(st.dir, int64(k), at)
					skipped += int64(k)
					p = p[k:]
					continue
				}
				k := len(p)
				if err := s.Data(st.dir, p[:k], at); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				p = p[k:]
			}
		}
	}
	s.Close(at.Add(time.Millisecond))
	return evs, skipped
}

// TestSkipGivesTheSameEvents feeds flows with bodies larger than the body
// limit (by length, chunked, until the close, uploaded), a coded one (which
// must be seen whole to be decoded) and small ones, once with every byte
// and once skipping what the dissector allows: the events are the same,
// sizes and kept bytes included, and most of the large bodies were skipped.
func TestSkipGivesTheSameEvents(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 20_000) // 320,000 bytes
	gz := compress(t, "gzip", big)
	var chunked strings.Builder
	for c := range slicesChunk(big, 50_000) {
		fmt.Fprintf(&chunked, "%x\r\n%s\r\n", len(c), c)
	}
	chunked.WriteString("0\r\nX-Sum: 1\r\n\r\n")
	script := []step{
		up("GET /big HTTP/1.1\r\nHost: example.test\r\n\r\n"),
		down(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(big), big)),
		up(fmt.Sprintf("POST /upload HTTP/1.1\r\nHost: example.test\r\nContent-Length: %d\r\n\r\n%s", len(big), big)),
		down("HTTP/1.1 204 No Content\r\n\r\n"),
		up("GET /chunked HTTP/1.1\r\nHost: example.test\r\n\r\n"),
		down("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked.String()),
		up("GET /gzip HTTP/1.1\r\nHost: example.test\r\n\r\n"),
		down(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s", len(gz), gz)),
		up("GET /small HTTP/1.1\r\nHost: example.test\r\n\r\n"),
		down("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
		up("GET /close HTTP/1.1\r\nHost: example.test\r\n\r\n"),
		endUp,
		down("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + string(big)),
		endDown,
	}
	for _, limit := range []int{1000, -1} {
		opts := dissect.Options{BodyLimit: limit}
		want, none := feedSkipping(t, opts, script, false)
		got, skipped := feedSkipping(t, opts, script, true)
		if none != 0 || len(got) != len(want) {
			t.Fatalf("limit %d: %d events skipping, %d without", limit, len(got), len(want))
		}
		for i := range want {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("limit %d: event %d skipping:\n%+v\nwithout:\n%+v", limit, i, got[i], want[i])
			}
		}
		if min := int64(4*len(big)) * 9 / 10; skipped < min {
			t.Errorf("limit %d: %d bytes skipped; want at least %d (nine tenths of four large bodies, not coded)", limit, skipped, min)
		}
		if h := httpOf(got, "/gzip"); h == nil || h.RespBody.DecodedSize != int64(len(big)) {
			t.Errorf("limit %d: the gzip body was not decoded whole: %+v", limit, h)
		}
	}
}

// httpOf is the last HTTP event of path.
func httpOf(evs []event.Event, path string) *event.HTTP {
	var last *event.HTTP
	for _, e := range evs {
		if h, ok := e.(*event.HTTP); ok && h.Path == path {
			last = h
		}
	}
	return last
}
