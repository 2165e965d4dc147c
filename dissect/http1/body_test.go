package http1_test

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
)

// compress codes b with coding, as a server would.
func compress(tb testing.TB, coding string, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	var err error
	switch coding {
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "zlib":
		w, err = zlib.NewWriterLevel(&buf, zlib.BestCompression)
	case "raw":
		w, err = flate.NewWriter(&buf, flate.BestSpeed)
	case "br":
		w = brotli.NewWriter(&buf)
	case "zstd":
		w, err = zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
	default:
		tb.Fatalf("no coding %q", coding)
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

// exchangeScript is one GET answered with body, chunked or not.
func exchangeScript(header string, body []byte, chunk bool) []step {
	resp := "HTTP/1.1 200 OK\r\n" + header
	if chunk {
		var b strings.Builder
		for c := range slicesChunk(body, 1000) {
			fmt.Fprintf(&b, "%x\r\n%s\r\n", len(c), c)
		}
		b.WriteString("0\r\n\r\n")
		resp += "Transfer-Encoding: chunked\r\n\r\n" + b.String()
	} else {
		resp += fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
	}
	return []step{up("GET /body HTTP/1.1\r\nHost: example.test\r\n\r\n"), down(resp)}
}

// slicesChunk yields b in pieces of at most n bytes.
func slicesChunk(b []byte, n int) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(b) > 0 {
			k := min(n, len(b))
			if !yield(b[:k]) {
				return
			}
			b = b[k:]
		}
	}
}

// lastHTTP returns the last HTTP event of evs.
func lastHTTP(tb testing.TB, evs []event.Event) *event.HTTP {
	tb.Helper()
	for i := len(evs) - 1; i >= 0; i-- {
		if h, ok := evs[i].(*event.HTTP); ok {
			return h
		}
	}
	tb.Fatalf("no HTTP event in %v", evs)
	return nil
}

// TestContentEncoding checks that bodies are counted as sent and decoded,
// whichever way they are fed.
func TestContentEncoding(t *testing.T) {
	text := []byte(strings.Repeat("The quick brown fox jumps over the lazy dog. ", 200))
	tests := []struct {
		name     string
		encoding string // Content-Encoding header value
		wire     []byte
		chunked  bool
		limit    int
		// want
		data        []byte
		decodedSize int64
		truncated   bool
	}{
		{name: "gzip", encoding: "gzip", wire: compress(t, "gzip", text), data: text, decodedSize: int64(len(text))},
		{name: "gzip chunked", encoding: "gzip", wire: compress(t, "gzip", text), chunked: true, data: text, decodedSize: int64(len(text))},
		{name: "deflate zlib", encoding: "deflate", wire: compress(t, "zlib", text), data: text, decodedSize: int64(len(text))},
		{name: "deflate raw", encoding: "deflate", wire: compress(t, "raw", text), data: text, decodedSize: int64(len(text))},
		{name: "br", encoding: "br", wire: compress(t, "br", text), chunked: true, data: text, decodedSize: int64(len(text))},
		{name: "zstd", encoding: "zstd", wire: compress(t, "zstd", text), data: text, decodedSize: int64(len(text))},
		{name: "gzip then br", encoding: "gzip, br", wire: compress(t, "br", compress(t, "gzip", text)), data: text, decodedSize: int64(len(text))},
		{name: "identity", encoding: "identity", wire: text, data: text, decodedSize: int64(len(text))},
		{name: "gzip limit", encoding: "gzip", wire: compress(t, "gzip", text), limit: 100, data: text[:100], decodedSize: int64(len(text)), truncated: true},
		{name: "plain limit", wire: text, limit: 10, data: text[:10], decodedSize: int64(len(text)), truncated: true},
		{name: "no data kept", encoding: "gzip", wire: compress(t, "gzip", text), limit: -1, decodedSize: int64(len(text)), truncated: true},
		{name: "bad gzip", encoding: "gzip", wire: []byte("this is not gzip at all"), decodedSize: -1, truncated: true},
		{name: "cut gzip", encoding: "gzip", wire: compress(t, "gzip", text)[:60], decodedSize: -1, truncated: true},
		{name: "unknown coding", encoding: "compress", wire: []byte("whatever"), decodedSize: -1, truncated: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			header := "Content-Type: Text/Plain; charset=utf-8\r\n"
			if tc.encoding != "" {
				header += "Content-Encoding: " + tc.encoding + "\r\n"
			}
			script := exchangeScript(header, tc.wire, tc.chunked)
			runAll(t, testMeta, dissect.Options{BodyLimit: tc.limit}, script)
			evs, err := run(t, testMeta, dissect.Options{BodyLimit: tc.limit}, script, splitters()[2].Split)
			if err != nil {
				t.Fatal(err)
			}
			got := lastHTTP(t, evs).RespBody
			if got.Size != int64(len(tc.wire)) || got.DecodedSize != tc.decodedSize || got.Truncated != tc.truncated {
				t.Errorf("body = size %d decoded %d truncated %v; want %d %d %v",
					got.Size, got.DecodedSize, got.Truncated, len(tc.wire), tc.decodedSize, tc.truncated)
			}
			if tc.data != nil && !bytes.Equal(got.Data, tc.data) {
				t.Errorf("data = %.60q… (%d bytes); want %.60q… (%d bytes)", got.Data, len(got.Data), tc.data, len(tc.data))
			}
			if got.ContentType != "text/plain" || got.Encoding != tc.encoding {
				t.Errorf("type, encoding = %q, %q; want text/plain, %q", got.ContentType, got.Encoding, tc.encoding)
			}
		})
	}
}

// TestRequestBodyGzip checks that request bodies are decoded too.
func TestRequestBodyGzip(t *testing.T) {
	text := []byte(`{"hello":"world"}`)
	wire := compress(t, "gzip", text)
	script := []step{
		up(fmt.Sprintf("POST /api HTTP/1.1\r\nHost: example.test\r\nContent-Encoding: gzip\r\n"+
			"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(wire), wire)),
		down("HTTP/1.1 204 No Content\r\n\r\n"),
	}
	runAll(t, testMeta, dissect.Options{}, script)
	evs, _ := run(t, testMeta, dissect.Options{}, script, splitters()[0].Split)
	got := lastHTTP(t, evs).ReqBody
	if string(got.Data) != string(text) || got.Size != int64(len(wire)) || got.ContentType != "application/json" {
		t.Errorf("request body = %+v; want %q", got, text)
	}
}

// TestCodedBodyCutShort checks that a coded body the connection cut short
// keeps what was decoded: DecodedSize counts it and Truncated is set,
// where a body that arrived whole but does not decode has DecodedSize -1.
func TestCodedBodyCutShort(t *testing.T) {
	text := []byte(strings.Repeat("The quick brown fox jumps over the lazy dog. ", 200))
	wire := compress(t, "gzip", text)
	script := []step{
		up("GET /body HTTP/1.1\r\nHost: example.test\r\n\r\n"),
		down(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s",
			len(wire)+10, wire)),
		endDown,
	}
	runAll(t, testMeta, dissect.Options{}, script)
	evs, err := run(t, testMeta, dissect.Options{}, script, splitters()[0].Split)
	if err != nil {
		t.Fatal(err)
	}
	h := lastHTTP(t, evs)
	got := h.RespBody
	if h.Err != "response body cut short" || got.Size != int64(len(wire)) ||
		got.DecodedSize != int64(len(text)) || !got.Truncated || !bytes.Equal(got.Data, text) {
		t.Errorf("cut short: Err %q, body size %d decoded %d truncated %v, %d bytes; want %q, %d %d true, %d bytes",
			h.Err, got.Size, got.DecodedSize, got.Truncated, len(got.Data),
			"response body cut short", len(wire), len(text), len(text))
	}
}
