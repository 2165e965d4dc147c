package http2

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/htapod/htapod/event"
	"github.com/klauspost/compress/zstd"
)

// encode applies the content coding c to b.
func encode(tb testing.TB, c string, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch c {
	case "gzip":
		return gzipBytes(b)
	case "deflate":
		w = zlib.NewWriter(&buf)
	case "raw-deflate":
		w, _ = flate.NewWriter(&buf, flate.BestSpeed)
	case "br":
		w = brotli.NewWriter(&buf)
	case "zstd":
		var err error
		if w, err = zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1)); err != nil {
			tb.Fatal(err)
		}
	default:
		tb.Fatalf("unknown coding %q", c)
	}
	w.Write(b)
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func TestBody(t *testing.T) {
	plain := []byte(strings.Repeat("The quick brown fox jumps over the lazy dog. ", 2000))
	tests := []struct {
		name string
		// encoding is the Content-Encoding; wire the body as sent.
		encoding string
		wire     []byte
		limit    int
		complete bool
		// want is the event's Body, without Size, Encoding and
		// ContentType; Data is compared by content.
		want event.Body
	}{
		{"identity", "", plain, 1 << 20, true, event.Body{Data: plain, DecodedSize: int64(len(plain))}},
		{"identity over the limit", "identity", plain, 100, true,
			event.Body{Data: plain[:100], DecodedSize: int64(len(plain)), Truncated: true}},
		{"gzip", "gzip", gzipBytes(plain), 1 << 20, true, event.Body{Data: plain, DecodedSize: int64(len(plain))}},
		{"x-gzip", "X-GZIP", gzipBytes(plain), 1 << 20, true, event.Body{Data: plain, DecodedSize: int64(len(plain))}},
		{"deflate", "deflate", encode(t, "deflate", plain), 1 << 20, true, event.Body{Data: plain, DecodedSize: int64(len(plain))}},
		{"raw deflate", "deflate", encode(t, "raw-deflate", plain), 1 << 20, true, event.Body{Data: plain, DecodedSize: int64(len(plain))}},
		{"br", "br", encode(t, "br", plain), 1 << 20, true, event.Body{Data: plain, DecodedSize: int64(len(plain))}},
		{"zstd", "zstd", encode(t, "zstd", plain), 1 << 20, true, event.Body{Data: plain, DecodedSize: int64(len(plain))}},
		{"zstd over the limit", "zstd", encode(t, "zstd", plain), 10, true,
			event.Body{Data: plain[:10], DecodedSize: int64(len(plain)), Truncated: true}},
		{"gzip then br", "gzip, br", encode(t, "br", gzipBytes(plain)), 1 << 20, true,
			event.Body{Data: plain, DecodedSize: int64(len(plain))}},
		{"no limit", "gzip", gzipBytes(plain), 0, true, event.Body{DecodedSize: int64(len(plain)), Truncated: true}},
		{"truncated gzip", "gzip", gzipBytes(plain)[:50], 1 << 20, true, event.Body{DecodedSize: -1, Truncated: true}},
		{"cut short", "gzip", gzipBytes(plain)[:50], 1 << 20, false, event.Body{Truncated: true}},
		{"garbage", "br", []byte("this is not brotli at all"), 1 << 20, true, event.Body{DecodedSize: -1, Truncated: true}},
		{"unknown coding", "compress", []byte("whatever"), 1 << 20, true, event.Body{DecodedSize: -1, Truncated: true}},
		{"too many codings", "gzip, gzip, gzip, gzip", []byte("x"), 1 << 20, true, event.Body{DecodedSize: -1, Truncated: true}},
		{"empty gzip", "gzip", nil, 1 << 20, true, event.Body{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(2, 3))
			for _, f := range feedings {
				var b body
				b.limit = tc.limit
				b.head([]event.Header{{Name: "Content-Type", Value: "Text/Plain; charset=utf-8"},
					{Name: "content-encoding", Value: tc.encoding}})
				for _, p := range f.cut(r, tc.wire) {
					b.write(p)
				}
				b.end(tc.complete)
				got := b.snapshot()
				if got.Size != int64(len(tc.wire)) || got.ContentType != "text/plain" ||
					got.Encoding != strings.ToLower(tc.encoding) {
					t.Errorf("%s: Size, ContentType, Encoding = %d, %q, %q; want %d, text/plain, %q",
						f.name, got.Size, got.ContentType, got.Encoding, len(tc.wire), tc.encoding)
				}
				if tc.want.DecodedSize >= 0 && !bytes.Equal(got.Data, tc.want.Data) {
					t.Errorf("%s: Data = %.40q (%d bytes); want %.40q (%d bytes)", f.name,
						got.Data, len(got.Data), tc.want.Data, len(tc.want.Data))
				}
				if got.DecodedSize != tc.want.DecodedSize && !(tc.name == "cut short" && got.DecodedSize >= 0) ||
					got.Truncated != tc.want.Truncated {
					t.Errorf("%s: DecodedSize, Truncated = %d, %v; want %d, %v", f.name,
						got.DecodedSize, got.Truncated, tc.want.DecodedSize, tc.want.Truncated)
				}
			}
		})
	}
}

// TestInflaterAbort checks that abandoned decoders end their coroutines
// and that a decoder fed after its end ignores the input.
func TestInflaterAbort(t *testing.T) {
	var out bytes.Buffer
	z := newInflater("gzip", func(p []byte) { out.Write(p) })
	gz := gzipBytes([]byte("abc"))
	if err := z.write(gz[:5]); err != nil {
		t.Fatalf("write = %v", err)
	}
	z.abort()
	z.abort()

	z = newInflater("gzip", func(p []byte) { out.Write(p) })
	out.Reset()
	if err := z.write(gz); err != nil {
		t.Fatalf("write = %v", err)
	}
	if err := z.close(); err != nil || out.String() != "abc" {
		t.Fatalf("close = %v with %q; want nil with abc", err, out.String())
	}
}
