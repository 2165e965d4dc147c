package http1

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
)

// headBuf collects one message head (start line and field lines, up to
// and including the empty line) from chunks of any size. It keeps at most
// limit bytes: a head that does not end within limit bytes is ErrTooLarge.
type headBuf struct {
	buf  []byte
	scan int       // offset in buf where the search for the end resumes
	t    time.Time // when the head's first byte arrived
}

// take feeds b. When the head is complete it returns it (valid until the
// next call of take) and how many bytes of b it used; otherwise it returns
// nil and len(b) or an error. Empty lines before a head are skipped:
// RFC 9112 §2.2 "a server that is expecting to receive and parse a
// request-line SHOULD ignore at least one empty line (CRLF) received prior
// to the request-line"; we do the same for status lines.
func (h *headBuf) take(b []byte, t time.Time, limit int) (head []byte, n int, err error) {
	if len(h.buf) == 0 {
		for n < len(b) && (b[n] == '\r' || b[n] == '\n') {
			n++
		}
		b = b[n:]
		if len(b) == 0 {
			return nil, n, nil
		}
		h.t = t
		if end, _ := headEnd(b, 0); end > 0 {
			if end > limit {
				return nil, n, errTooLarge(limit)
			}
			return b[:end], n + end, nil
		}
		if len(b) >= limit {
			return nil, n, errTooLarge(limit)
		}
		h.grow(len(b), limit)
		h.buf = append(h.buf, b...)
		_, h.scan = headEnd(h.buf, 0)
		return nil, n + len(b), nil
	}
	prev := len(h.buf)
	k := min(len(b), limit-prev)
	h.grow(k, limit)
	h.buf = append(h.buf, b[:k]...)
	end, scan := headEnd(h.buf, h.scan)
	if end > 0 {
		return h.buf[:end], n + end - prev, nil
	}
	h.scan = scan
	if len(h.buf) >= limit {
		return nil, n + k, errTooLarge(limit)
	}
	return nil, n + k, nil
}

// grow makes room for n more bytes, doubling the buffer (from 4 KiB, up
// to limit) so that a head fed a byte at a time costs O(limit) allocations.
func (h *headBuf) grow(n, limit int) {
	if len(h.buf)+n <= cap(h.buf) {
		return
	}
	c := max(min(max(2*cap(h.buf), 4<<10), limit), len(h.buf)+n)
	h.buf = append(make([]byte, 0, c), h.buf...)
}

// reset forgets the head just taken. A large buffer is dropped so that an
// idle connection holds little memory.
func (h *headBuf) reset() {
	h.scan = 0
	if cap(h.buf) > 4<<10 {
		h.buf = nil
		return
	}
	h.buf = h.buf[:0]
}

func errTooLarge(limit int) error {
	return fmt.Errorf("message head exceeds %d bytes: %w", limit, dissect.ErrTooLarge)
}

// headEnd finds the empty line that ends a head in b, looking from offset
// from on. It returns the offset just past it, or 0 and the offset where a
// later search must resume. A bare LF ends a line too (RFC 9112 §2.2).
func headEnd(b []byte, from int) (end, resume int) {
	for i := from; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return 0, len(b)
		}
		i += j
		switch {
		case i+1 >= len(b):
			return 0, i
		case b[i+1] == '\n':
			return i + 2, 0
		case b[i+1] == '\r':
			if i+2 >= len(b) {
				return 0, i
			}
			if b[i+2] == '\n' {
				return i + 3, 0
			}
		}
		i++
	}
}

// malformed wraps a description of broken input in dissect.ErrMalformed.
func malformed(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, dissect.ErrMalformed)...)
}

// splitHead splits a complete head into its start line and its fields.
func splitHead(head []byte) (start string, fields []event.Header, err error) {
	// One string holds the whole head: the fields' names and values are
	// slices of it, one allocation for all of them.
	rest := string(head)
	start, rest, _ = strings.Cut(rest, "\n")
	start = strings.TrimSuffix(start, "\r")
	fields = make([]event.Header, 0, strings.Count(rest, "\n"))
	for rest != "" {
		var l string
		l, rest, _ = strings.Cut(rest, "\n")
		l = strings.TrimSuffix(l, "\r")
		if l == "" {
			continue
		}
		if l[0] == ' ' || l[0] == '\t' {
			// RFC 9112 §5.2: obs-fold; a user agent "MUST replace each
			// received obs-fold with one or more SP octets".
			if len(fields) == 0 {
				return "", nil, malformed("continuation line before any field")
			}
			f := &fields[len(fields)-1]
			f.Value = strings.TrimSpace(f.Value + " " + trimOWS(l))
			continue
		}
		name, value, ok := strings.Cut(l, ":")
		// RFC 9112 §5.1: "No whitespace is allowed between the field name
		// and colon"; ValidHeaderFieldName rejects it with any non-token.
		if !ok || !httpguts.ValidHeaderFieldName(name) {
			return "", nil, malformed("bad field line %.40q", l)
		}
		value = trimOWS(value)
		if !httpguts.ValidHeaderFieldValue(value) {
			return "", nil, malformed("bad value of field %.40q", name)
		}
		fields = append(fields, event.Header{Name: name, Value: value})
	}
	return start, fields, nil
}

// trimOWS trims optional whitespace (SP and HTAB, RFC 9110 §5.6.3).
func trimOWS(s string) string { return strings.Trim(s, " \t") }

// requestLine is a parsed request-line (RFC 9112 §3).
type requestLine struct {
	method, target, proto string
}

// parseRequestLine parses "method SP request-target SP HTTP-version".
func parseRequestLine(l string) (requestLine, error) {
	method, rest, ok1 := strings.Cut(l, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || !httpguts.ValidHeaderFieldName(method) || target == "" {
		return requestLine{}, malformed("bad request line %.60q", l)
	}
	for i := 0; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c == 0x7f {
			return requestLine{}, malformed("bad request target %.60q", target)
		}
	}
	return requestLine{method, target, proto}, nil
}

// validVersion says proto is HTTP/1.x.
func validVersion(proto string) bool {
	return len(proto) == 8 && strings.HasPrefix(proto, "HTTP/1.") && proto[7] >= '0' && proto[7] <= '9'
}

// statusLine is a parsed status-line (RFC 9112 §4).
type statusLine struct {
	proto  string
	status int
	reason string
}

// parseStatusLine parses "HTTP-version SP status-code SP [reason-phrase]".
// The SP after the code is optional here, as many servers omit it.
func parseStatusLine(l string) (statusLine, error) {
	proto, rest, _ := strings.Cut(l, " ")
	code, reason, _ := strings.Cut(rest, " ")
	if !validVersion(proto) || len(code) != 3 {
		return statusLine{}, malformed("bad status line %.60q", l)
	}
	n, err := strconv.Atoi(code)
	if err != nil || n < 100 {
		return statusLine{}, malformed("bad status code %q", code)
	}
	return statusLine{proto, n, reason}, nil
}

// get returns the first value of the named field, and whether there is one.
func get(h []event.Header, name string) (string, bool) {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return f.Value, true
		}
	}
	return "", false
}
