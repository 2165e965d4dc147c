package body_test

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"github.com/htapod/htapod/dissect/internal/body"
	"github.com/htapod/htapod/event"
)

// encode codes b with coding as a server would: "gzip", "zlib" and
// "raw-deflate" (the two forms of "deflate"), "br" or "zstd".
func encode(tb testing.TB, coding string, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch coding {
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "zlib":
		w, err = zlib.NewWriterLevel(&buf, zlib.BestCompression)
	case "raw-deflate":
		w, err = flate.NewWriter(&buf, flate.BestSpeed)
	case "br":
		w = brotli.NewWriter(&buf)
	case "zstd":
		w, err = zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
	default:
		tb.Fatalf("encode: no coding %q", coding)
	}
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// feeding is a way to cut a body into Writes; rand is seeded per test.
type feeding struct {
	name string
	cut  func(r *rand.Rand, b []byte) [][]byte
}

var feedings = []feeding{
	{"whole", func(_ *rand.Rand, b []byte) [][]byte { return [][]byte{b} }},
	{"bytes", func(_ *rand.Rand, b []byte) [][]byte {
		out := make([][]byte, len(b))
		for i := range b {
			out[i] = b[i : i+1]
		}
		return out
	}},
	{"random", func(r *rand.Rand, b []byte) [][]byte {
		var out [][]byte
		for len(b) > 0 {
			n := min(len(b), 1+r.IntN(1000))
			out, b = append(out, b[:n]), b[n:]
		}
		return out
	}},
}

// plainText is a body of 100 KB that does not compress too well, so that
// half of it coded is still a few kilobytes.
func plainText() []byte {
	var b []byte
	for i := range 2000 {
		b = fmt.Appendf(b, "%d: The quick brown fox jumps over the lazy dog %x times.\n", i, i*i*7919)
	}
	return b
}

// sinkTest is a body written to a Sink and the event.Body it must make.
type sinkTest struct {
	name     string
	encoding string // the Content-Encoding, or "" for none
	wire     []byte // the content as sent
	limit    int    // passed to New
	complete bool   // passed to End
	// want is the Body without Size (always len(wire)), Encoding (the
	// lower-case Content-Encoding) and ContentType (always text/plain).
	// A DecodedSize of cut means any size above zero: Data must then be
	// the first DecodedSize bytes of plain, or as many as the limit
	// allows.
	want event.Body
}

// cut is the DecodedSize of a sinkTest whose body was cut short.
const cut = -2

func sinkTests(t *testing.T) []sinkTest {
	plain := plainText()
	n := int64(len(plain))
	all := event.Body{Data: plain, DecodedSize: n}
	gz := encode(t, "gzip", plain)
	brgz := encode(t, "br", gz)
	zs := encode(t, "zstd", plain)
	return []sinkTest{
		{"identity", "", plain, 1 << 20, true, all},
		{"identity named", "identity", plain, 1 << 20, true, all},
		{"identity over the limit", "identity", plain, 100, true,
			event.Body{Data: plain[:100], DecodedSize: n, Truncated: true}},
		{"identity cut short", "", plain[:10], 1 << 20, false, event.Body{Data: plain[:10], DecodedSize: 10}},
		{"gzip", "gzip", gz, 1 << 20, true, all},
		{"x-gzip", "X-GZIP", gz, 1 << 20, true, all},
		{"deflate zlib", "deflate", encode(t, "zlib", plain), 1 << 20, true, all},
		{"deflate raw", "deflate", encode(t, "raw-deflate", plain), 1 << 20, true, all},
		{"br", "br", encode(t, "br", plain), 1 << 20, true, all},
		{"zstd", "zstd", zs, 1 << 20, true, all},
		{"gzip then br", "gzip, br", brgz, 1 << 20, true, all},
		{"three codings", "deflate, zstd, gzip",
			encode(t, "gzip", encode(t, "zstd", encode(t, "zlib", plain))), 1 << 20, true, all},
		{"gzip over the limit", "gzip", gz, 100, true,
			event.Body{Data: plain[:100], DecodedSize: n, Truncated: true}},
		{"zstd over the limit", "zstd", zs, 10, true,
			event.Body{Data: plain[:10], DecodedSize: n, Truncated: true}},
		{"no data kept", "gzip", gz, 0, true, event.Body{DecodedSize: n, Truncated: true}},
		{"negative limit", "", plain, -1, true, event.Body{DecodedSize: n, Truncated: true}},
		{"empty gzip", "gzip", nil, 1 << 20, true, event.Body{}},
		{"bad gzip", "gzip", []byte("this is not gzip at all"), 1 << 20, true,
			event.Body{DecodedSize: -1, Truncated: true}},
		{"bad br", "br", []byte("this is not brotli at all"), 1 << 20, true,
			event.Body{DecodedSize: -1, Truncated: true}},
		{"short deflate", "deflate", []byte{0x78}, 1 << 20, true, event.Body{DecodedSize: -1, Truncated: true}},
		{"bad inner coding", "gzip, br", encode(t, "br", []byte("not gzip")), 1 << 20, true,
			event.Body{DecodedSize: -1, Truncated: true}},
		{"truncated gzip", "gzip", gz[:len(gz)/2], 1 << 20, true, event.Body{DecodedSize: -1, Truncated: true}},
		{"gzip cut short", "gzip", gz[:len(gz)/2], 1 << 20, false, event.Body{DecodedSize: cut, Truncated: true}},
		{"whole gzip cut short", "gzip", gz, 1 << 20, false, event.Body{Data: plain, DecodedSize: n, Truncated: true}},
		{"zstd cut short over the limit", "zstd", zs[:len(zs)-10], 100, false, event.Body{DecodedSize: cut, Truncated: true}},
		{"stacked cut short", "gzip, br", brgz[:len(brgz)/2], 1 << 20, false,
			event.Body{DecodedSize: cut, Truncated: true}},
		{"bytes after the br data", "br", append(encode(t, "br", plain), "trailing"...), 1 << 20, true, all},
		{"bytes after the zlib data", "deflate", append(encode(t, "zlib", plain), "trailing"...), 1 << 20, true, all},
		{"two gzip members", "gzip", append(encode(t, "gzip", plain[:1000]), encode(t, "gzip", plain[1000:])...),
			1 << 20, true, all},
		{"garbage after gzip", "gzip", append(gz[:len(gz):len(gz)], "trailing"...), 1 << 20, true,
			event.Body{DecodedSize: -1, Truncated: true}},
		{"unknown coding", "compress", []byte("whatever"), 1 << 20, true, event.Body{DecodedSize: -1, Truncated: true}},
		{"unknown coding, no content", "compress", nil, 1 << 20, true, event.Body{}},
		{"too many codings", "gzip, gzip, gzip, gzip", []byte("x"), 1 << 20, true,
			event.Body{DecodedSize: -1, Truncated: true}},
	}
}

// TestSink writes bodies cut in every way of feedings and checks the
// event.Body they make.
func TestSink(t *testing.T) {
	plain := plainText()
	for _, tc := range sinkTests(t) {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(2, 3))
			var first event.Body
			for i, f := range feedings {
				s := body.New(tc.limit)
				h := []event.Header{{Name: "Content-Type", Value: "Text/Plain; charset=utf-8"}}
				if tc.encoding != "" {
					h = append(h, event.Header{Name: "content-encoding", Value: tc.encoding})
				}
				s.Head(h)
				for _, p := range f.cut(r, tc.wire) {
					s.Write(p)
				}
				s.End(tc.complete)
				got := s.Event()
				if got.Size != int64(len(tc.wire)) || got.ContentType != "text/plain" ||
					got.Encoding != strings.ToLower(tc.encoding) {
					t.Errorf("%s: Size, ContentType, Encoding = %d, %q, %q; want %d, text/plain, %q",
						f.name, got.Size, got.ContentType, got.Encoding, len(tc.wire), strings.ToLower(tc.encoding))
				}
				want := tc.want
				if want.DecodedSize == cut && got.DecodedSize > 0 {
					want.DecodedSize = got.DecodedSize
					want.Data = plain[:min(got.DecodedSize, int64(max(tc.limit, 0)))]
				}
				if got.DecodedSize != want.DecodedSize || got.Truncated != want.Truncated {
					t.Errorf("%s: DecodedSize, Truncated = %d, %v; want %d, %v", f.name,
						got.DecodedSize, got.Truncated, want.DecodedSize, want.Truncated)
				}
				if want.DecodedSize == -1 {
					// What was decoded before the failure is kept.
					want.Data = got.Data
					if !bytes.HasPrefix(plain, got.Data) {
						want.Data = nil
					}
				}
				if !bytes.Equal(got.Data, want.Data) {
					t.Errorf("%s: Data = %.40q (%d bytes); want %.40q (%d bytes)", f.name,
						got.Data, len(got.Data), want.Data, len(want.Data))
				}
				// However the body is cut, the Sink must say the same:
				// the dissectors' fuzz targets rely on it.
				if i == 0 {
					first = got
				} else if got.DecodedSize != first.DecodedSize || !bytes.Equal(got.Data, first.Data) {
					t.Errorf("%s: DecodedSize %d, %d bytes; fed whole: %d, %d bytes", f.name,
						got.DecodedSize, len(got.Data), first.DecodedSize, len(first.Data))
				}
			}
		})
	}
}

// A gzip body arrives in two pieces; the Sink keeps its first 11 decoded
// bytes.
func ExampleSink() {
	var wire bytes.Buffer
	zw := gzip.NewWriter(&wire)
	zw.Write([]byte("hello, world: hello, world"))
	zw.Close()

	s := body.New(11)
	s.Head([]event.Header{
		{Name: "Content-Type", Value: "text/plain; charset=utf-8"},
		{Name: "Content-Encoding", Value: "gzip"},
	})
	half := wire.Len() / 2
	s.Write(wire.Bytes()[:half])
	s.Write(wire.Bytes()[half:])
	s.End(true)

	b := s.Event()
	fmt.Printf("%s %s: %d bytes sent, %d decoded, kept %q (truncated %v)\n",
		b.ContentType, b.Encoding, b.Size, b.DecodedSize, b.Data, b.Truncated)
	// Output:
	// text/plain gzip: 40 bytes sent, 26 decoded, kept "hello, worl" (truncated true)
}
