package body

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/htapod/htapod/event"
)

func gzipBytes(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// TestDecoderAbort checks that an abandoned decoder may be aborted again
// and ignores input, and that a fresh one decodes to the end.
func TestDecoderAbort(t *testing.T) {
	var out bytes.Buffer
	gz := gzipBytes(t, []byte("abc"))
	d := newDecoder("gzip", func(p []byte) { out.Write(p) })
	if err := d.write(gz[:5]); err != nil {
		t.Fatalf("write(%d bytes) = %v; want nil", 5, err)
	}
	d.abort()
	d.abort()
	if err := d.write(gz[5:]); !errors.Is(err, errStopped) || out.Len() != 0 {
		t.Errorf("write after abort = %v with %q; want errStopped with nothing", err, out.String())
	}

	d = newDecoder("gzip", func(p []byte) { out.Write(p) })
	if err := d.write(gz); err != nil {
		t.Fatalf("write = %v; want nil", err)
	}
	if err := d.close(); err != nil || out.String() != "abc" {
		t.Fatalf("close = %v with %q; want nil with abc", err, out.String())
	}
	if err := d.close(); err != nil {
		t.Errorf("second close = %v; want nil", err)
	}
}

// readerFunc is an io.ReadCloser made of a function.
type readerFunc func(p []byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
func (readerFunc) Close() error                 { return nil }

// TestDecoderFaults checks that a decompressor that panics, makes no
// progress or cannot start fails its body and nothing more.
func TestDecoderFaults(t *testing.T) {
	tests := []struct {
		name string
		open opener
		want string // in the error
	}{
		{"panics", func(src io.Reader) (io.ReadCloser, error) {
			return readerFunc(func(p []byte) (int, error) {
				src.Read(p)
				panic("boom")
			}), nil
		}, "fake decoder panicked: boom"},
		{"no progress", func(io.Reader) (io.ReadCloser, error) {
			return readerFunc(func([]byte) (int, error) { return 0, nil }), nil
		}, io.ErrNoProgress.Error()},
		{"cannot open", func(io.Reader) (io.ReadCloser, error) {
			return nil, errors.New("bad header")
		}, "open fake decoder: bad header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDecoderOf("fake", tc.open, func([]byte) { t.Error("out called") })
			err := d.write([]byte("input"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("write = %v; want an error with %q", err, tc.want)
			}
			if err2 := d.close(); err2 != err {
				t.Errorf("close = %v; want %v", err2, err)
			}
		})
	}
}

// TestIsZlibHeader checks how "deflate" tells zlib from raw deflate.
func TestIsZlibHeader(t *testing.T) {
	tests := []struct {
		cmf, flg byte
		want     bool
	}{
		{0x78, 0x9c, true},  // 32 KiB window, default level
		{0x78, 0xda, true},  // best compression
		{0x08, 0x1d, true},  // 256-byte window
		{0x78, 0x9d, false}, // bad FCHECK
		{0x88, 0x98, false}, // CINFO 8: not allowed
		{0x79, 0x9c, false}, // CM 9
	}
	for _, tc := range tests {
		if got := isZlibHeader(tc.cmf, tc.flg); got != tc.want {
			t.Errorf("isZlibHeader(%#x, %#x) = %v; want %v", tc.cmf, tc.flg, got, tc.want)
		}
	}
}

// TestCodings checks how a Content-Encoding list becomes the codings to
// undo.
func TestCodings(t *testing.T) {
	tests := []struct {
		in   []string
		want []string
		ok   bool
	}{
		{nil, nil, true},
		{[]string{"identity"}, nil, true},
		{[]string{"GZIP", "identity", "br"}, []string{"gzip", "br"}, true},
		{[]string{"x-gzip"}, []string{"gzip"}, true},
		{[]string{"deflate", "zstd", "br"}, []string{"deflate", "zstd", "br"}, true},
		{[]string{"gzip", "gzip", "gzip", "gzip"}, nil, false},
		{[]string{"gzip", "compress"}, nil, false},
		{[]string{"gzip;q=1"}, nil, false},
	}
	for _, tc := range tests {
		got, ok := codings(tc.in)
		if !slices.Equal(got, tc.want) || ok != tc.ok {
			t.Errorf("codings(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestNoGoroutineLeak checks that the decoders' coroutines end with their
// bodies: complete, cut short, failed or abandoned mid-stream.
func TestNoGoroutineLeak(t *testing.T) {
	gz := gzipBytes(t, bytes.Repeat([]byte("leak? "), 10000))
	bodies := []struct {
		encoding string
		wire     []byte
		complete bool
	}{
		{"gzip", gz, true},
		{"gzip", gz[:100], false},
		{"gzip", gz[:100], true},
		{"gzip, gzip", gzipBytes(t, gz), true},
		{"gzip, gzip", gzipBytes(t, gz)[:50], false},
		{"br, zstd", []byte("not br"), true},
		{"deflate", []byte{0x78}, false},
	}
	before := runtime.NumGoroutine()
	for range 20 {
		for _, b := range bodies {
			s := New(100)
			s.Head([]event.Header{{Name: "Content-Encoding", Value: b.encoding}})
			s.Write(b.wire)
			s.End(b.complete)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after the bodies; want %d", n, before)
	}
}
