package httpact

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"github.com/htapod/htapod/respond"
)

// encodeBody applies the response's Content-Encoding to its body. An
// encoding htapod cannot apply is removed from the header and the body
// sent as it is: the client then gets what the encoding decoded to.
func encodeBody(r *respond.Response) (http.Header, []byte) {
	h := r.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Del("Content-Length")
	h.Del("Transfer-Encoding")
	ce := strings.ToLower(strings.TrimSpace(h.Get("Content-Encoding")))
	if ce == "" || ce == "identity" {
		return h, r.Body
	}
	b, err := encode(ce, r.Body)
	if err != nil {
		h.Del("Content-Encoding")
		return h, r.Body
	}
	return h, b
}

func encode(ce string, body []byte) ([]byte, error) {
	var buf bytes.Buffer
	var w io.WriteCloser
	switch ce {
	case "gzip", "x-gzip":
		w = gzip.NewWriter(&buf)
	case "deflate":
		w = zlib.NewWriter(&buf) // RFC 9110 §8.4.1.2: "deflate" is zlib
	case "br":
		w = brotli.NewWriter(&buf)
	case "zstd":
		zw, err := zstd.NewWriter(&buf)
		if err != nil {
			return nil, err
		}
		w = zw
	default:
		return nil, fmt.Errorf("content encoding %q not supported", ce)
	}
	if _, err := w.Write(body); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// h1Response builds the HTTP/1.1 response for an answer to req.
func h1Response(req *http.Request, r *respond.Response) *http.Response {
	h, body := encodeBody(r)
	resp := &http.Response{
		StatusCode: r.Status, Status: strconv.Itoa(r.Status) + " " + http.StatusText(r.Status),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Request: req, ContentLength: int64(len(body)),
		Body: io.NopCloser(bytes.NewReader(body)),
	}
	if r.Chunked {
		resp.ContentLength = -1
		resp.TransferEncoding = []string{"chunked"}
	}
	if len(body) == 0 && !r.Chunked {
		resp.Body = http.NoBody
	}
	return resp
}

// throttled writes to w at most rate bytes a second, in slices of a
// twentieth of it.
type throttled struct {
	w     io.Writer
	rate  int64
	flush func()
}

func (t *throttled) Write(b []byte) (int, error) {
	step := max(int(t.rate/20), 1)
	n := 0
	for len(b) > 0 {
		k := min(step, len(b))
		start := time.Now()
		m, err := t.w.Write(b[:k])
		n += m
		if err != nil {
			return n, err
		}
		if t.flush != nil {
			t.flush()
		}
		b = b[k:]
		want := time.Duration(int64(k) * int64(time.Second) / t.rate)
		if d := want - time.Since(start); d > 0 {
			time.Sleep(d)
		}
	}
	return n, nil
}

// cutAfter lets n bytes through, then calls cut and fails: the reset
// fault, in the middle of a response.
type cutAfter struct {
	w   io.Writer
	n   int64
	cut func()
	hit bool
}

func (c *cutAfter) Write(b []byte) (int, error) {
	if c.hit {
		return 0, errReset
	}
	if int64(len(b)) < c.n {
		c.n -= int64(len(b))
		return c.w.Write(b)
	}
	m, _ := c.w.Write(b[:c.n])
	c.hit = true
	c.cut()
	return m, errReset
}

var errReset = fmt.Errorf("htapod: fault reset")
