package httpact

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
)

// tap keeps the bytes read through it while on: the bytes of an HTTP/1
// head as they came, so that a forwarded message keeps its spelling and
// order (net/http's Write would put header fields in its own).
type tap struct {
	r   io.Reader
	on  bool
	buf []byte
}

func (t *tap) Read(b []byte) (int, error) {
	if t.on && len(t.buf) > maxRawHead {
		return 0, errHeadTooLarge // a head is bounded, as in the gate
	}
	n, err := t.r.Read(b)
	if t.on && n > 0 {
		t.buf = append(t.buf, b[:n]...)
	}
	return n, err
}

// maxRawHead bounds the head bytes kept; a larger head is forwarded as
// net/http writes it.
const maxRawHead = 1 << 20

// readHead runs read on br and returns what it parsed with the bytes of
// the head it consumed (nil when they could not be kept).
func readHead[T any](t *tap, br *bufio.Reader, read func(*bufio.Reader) (T, error)) (T, []byte, error) {
	pre, _ := br.Peek(br.Buffered())
	all := append([]byte(nil), pre...)
	t.on, t.buf = true, t.buf[:0]
	v, err := read(br)
	t.on = false
	all = append(all, t.buf...)
	if cap(t.buf) > 64<<10 {
		t.buf = nil
	}
	n := len(all) - br.Buffered()
	if err != nil || n <= 0 || n > maxRawHead {
		return v, nil, err
	}
	return v, all[:n], nil
}

// chunked says a message's body is framed with chunked coding.
func chunked(te []string) bool {
	return len(te) > 0 && strings.EqualFold(te[len(te)-1], "chunked")
}

// writeBody writes body to w framed as the head said: chunked (with the
// trailer fields that trailer returns once body has ended) or as it is
// (a Content-Length, or until the end of the connection).
func writeBody(w io.Writer, body io.Reader, isChunked bool, trailer func() http.Header) error {
	if !isChunked {
		_, err := io.Copy(w, body)
		return err
	}
	cw := httputil.NewChunkedWriter(w)
	buf := copyBufs.Get().(*[]byte)
	_, err := io.CopyBuffer(cw, body, *buf)
	copyBufs.Put(buf)
	if err != nil {
		return err
	}
	if err := cw.Close(); err != nil { // the last chunk, "0\r\n"
		return err
	}
	var b strings.Builder
	for k, vs := range trailer() {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	_, err = io.WriteString(w, b.String())
	return err
}

// copyBufs are the buffers chunked bodies are copied through.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// bodyless says a response to method with status has no body (RFC 9112
// §6.3).
func bodyless(method string, status int) bool {
	return method == http.MethodHead || (status >= 100 && status < 200) || status == 204 || status == 304
}
