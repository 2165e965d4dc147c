package http1_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/dissect/http1"
	"github.com/htapod/htapod/event"
)

// allocated runs f and returns how many bytes it allocated on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestHugeHeader feeds a 1 MiB header: the dissector gives up with
// ErrTooLarge and an Unparsed event, having kept about MaxHeaderBytes.
func TestHugeHeader(t *testing.T) {
	const max = 64 << 10
	head := []byte("GET / HTTP/1.1\r\nHost: example.test\r\nX-Big: " + strings.Repeat("a", 1<<20) + "\r\n\r\n")
	for _, chunk := range []int{1, 1000, len(head)} {
		t.Run(fmt.Sprint(chunk), func(t *testing.T) {
			var evs []event.Event
			s := http1.New(testMeta, dissect.Options{MaxHeaderBytes: max}, func(e event.Event) { evs = append(evs, e) })
			var err error
			fed := 0
			alloc := allocated(func() {
				for fed < len(head) && err == nil {
					n := min(chunk, len(head)-fed)
					err = s.Data(event.Up, head[fed:fed+n], t0)
					fed += n
				}
			})
			s.Close(t0)
			if !errors.Is(err, dissect.ErrTooLarge) {
				t.Fatalf("Data(1 MiB header) = %v; want ErrTooLarge", err)
			}
			if chunk < len(head) && fed > max+chunk {
				t.Errorf("gave up after %d bytes; want at most %d", fed, max+chunk)
			}
			if alloc > 4*max {
				t.Errorf("allocated %d bytes; want at most %d", alloc, 4*max)
			}
			if len(evs) != 1 || evs[0].Kind() != "unparsed" {
				t.Errorf("events = %s; want one unparsed", render(evs, nil))
			}
		})
	}
}

// TestLargeBodies feeds a 1 GiB plain body and a 256 MiB gzip body (a
// repeated gzip member): sizes are counted and memory stays bounded.
func TestLargeBodies(t *testing.T) {
	if testing.Short() {
		t.Skip("large bodies take seconds")
	}
	var member bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	zw.Write(make([]byte, 1<<20))
	zw.Close()
	tests := []struct {
		name    string
		header  string
		chunk   []byte // the body is chunk repeated n times
		n       int
		decoded int64
	}{
		{"plain 1GiB", "", bytes.Repeat([]byte("0123456789abcdef"), 4096), 1 << 14, 1 << 30},
		{"gzip 256MiB", "Content-Encoding: gzip\r\n", member.Bytes(), 256, 256 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var last *event.HTTP
			s := http1.New(testMeta, dissect.Options{}, func(e event.Event) {
				if h, ok := e.(*event.HTTP); ok {
					last = h
				}
			})
			size := int64(len(tc.chunk) * tc.n)
			alloc := allocated(func() {
				must(t, s.Data(event.Up, []byte("GET /big HTTP/1.1\r\nHost: example.test\r\n\r\n"), t0))
				must(t, s.Data(event.Down, fmt.Appendf(nil, "HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n", tc.header, size), t0))
				for range tc.n {
					must(t, s.Data(event.Down, tc.chunk, t0))
				}
			})
			s.Close(t0)
			b := last.RespBody
			if last.Phase != event.PhaseDone || last.Err != "" || b.Size != size || b.DecodedSize != tc.decoded || !b.Truncated {
				t.Errorf("last event %s: size %d decoded %d truncated %v err %q; want done, %d, %d, true",
					last.Phase, b.Size, b.DecodedSize, b.Truncated, last.Err, size, tc.decoded)
			}
			if len(b.Data) != dissect.DefaultBodyLimit {
				t.Errorf("len(Data) = %d; want %d", len(b.Data), dissect.DefaultBodyLimit)
			}
			if alloc > 8<<20 {
				t.Errorf("allocated %d bytes; want at most 8 MiB", alloc)
			}
		})
	}
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// TestNoGoroutineLeak checks that the decoders' coroutines end with their
// bodies, also when a body is cut short or the dissector gives up.
func TestNoGoroutineLeak(t *testing.T) {
	wire := compress(t, "gzip", bytes.Repeat([]byte("leak? "), 10000))
	scripts := [][]step{
		exchangeScript("Content-Encoding: gzip\r\n", wire, false),
		exchangeScript("Content-Encoding: br, zstd\r\n", wire, true),
		exchangeScript("Content-Encoding: gzip\r\n", wire, true)[:1],
		{up("GET / HTTP/1.1\r\n\r\n"), down("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n" + string(wire[:100]))},
		{up("GET / HTTP/1.1\r\n\r\n"), down("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n" + string(wire[:100]) + "\r\nxyz\r\n")},
	}
	before := runtime.NumGoroutine()
	for range 20 {
		for _, sc := range scripts {
			run(t, testMeta, dissect.Options{}, sc, splitters()[2].Split)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after the runs; want %d", n, before)
	}
}

// TestPipelineBound checks that a client cannot queue requests without
// bound while the server does not answer.
func TestPipelineBound(t *testing.T) {
	var evs []event.Event
	s := http1.New(testMeta, dissect.Options{}, func(e event.Event) { evs = append(evs, e) })
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		err = s.Data(event.Up, []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), t0)
	}
	if !errors.Is(err, dissect.ErrTooLarge) {
		t.Fatalf("1000 unanswered requests: Data = %v; want ErrTooLarge", err)
	}
	s.Close(t0)
	dones := 0
	for _, e := range evs {
		if h, ok := e.(*event.HTTP); ok && h.Phase == event.PhaseDone {
			dones++
		}
	}
	if dones == 0 || dones > 100 {
		t.Errorf("%d exchanges done; want between 1 and 100", dones)
	}
}
