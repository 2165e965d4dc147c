package http1

import (
	"bytes"
	"math"
	"strconv"
	"strings"

	"github.com/htapod/htapod/dissect/internal/body"
	"github.com/htapod/htapod/event"
)

// framing is how a message body is delimited (RFC 9112 §6.3).
type framing int

const (
	noBody   framing = iota
	byLength         // Content-Length
	chunked          // Transfer-Encoding: chunked
	byClose          // the rest of the connection (responses only)
)

// chunkState is where a chunked body's parser stands (RFC 9112 §7.1).
type chunkState int

const (
	chunkSize    chunkState = iota // reading chunk-size [chunk-ext] CRLF
	chunkData                      // reading chunk-data
	chunkDataEnd                   // reading the CRLF after chunk-data
	chunkTrailer                   // reading the trailer section
)

// bodyReader removes a body's framing and hands the content to a sink.
type bodyReader struct {
	kind    framing
	remain  int64 // byLength: bytes left; chunked: bytes left in the chunk
	state   chunkState
	line    []byte // a partial chunk-size line, CRLF or trailer section
	max     int    // bound of line, from Options.MaxHeaderBytes
	trailer []event.Header
	sink    *body.Sink
}

// feed consumes bytes of b up to the end of the body. It returns how many
// it consumed and whether the body is complete. byClose bodies complete
// only by end().
func (r *bodyReader) feed(b []byte) (n int, done bool, err error) {
	switch r.kind {
	case noBody:
		return 0, true, nil
	case byClose:
		r.sink.Write(b)
		return len(b), false, nil
	case byLength:
		k := int(min(int64(len(b)), r.remain))
		r.sink.Write(b[:k])
		r.remain -= int64(k)
		return k, r.remain == 0, nil
	}
	for n < len(b) {
		switch r.state {
		case chunkData:
			k := int(min(int64(len(b)-n), r.remain))
			r.sink.Write(b[n : n+k])
			n += k
			if r.remain -= int64(k); r.remain == 0 {
				r.state = chunkDataEnd
			}
			continue
		case chunkTrailer:
			k, done, err := r.trailerBytes(b[n:])
			return n + k, done, err
		}
		i := bytes.IndexByte(b[n:], '\n')
		if i < 0 {
			if err := r.keep(b[n:]); err != nil {
				return n, false, err
			}
			return len(b), false, nil
		}
		if err := r.keep(b[n : n+i]); err != nil {
			return n, false, err
		}
		n += i + 1
		line := string(bytes.TrimSuffix(r.line, []byte("\r")))
		r.line = r.line[:0]
		if err := r.endLine(line); err != nil {
			return n, false, err
		}
	}
	return n, false, nil
}

// skippable says how many of the bytes to come need only be counted: the
// rest of the body, or of the chunk, but its last byte (so that feed sees
// the end of the body as usual), once the sink only counts.
func (r *bodyReader) skippable() int64 {
	if r == nil || !r.sink.Counting() {
		return 0
	}
	switch {
	case r.kind == byClose:
		return math.MaxInt64
	case r.kind == byLength, r.kind == chunked && r.state == chunkData:
		return max(r.remain-1, 0)
	}
	return 0
}

// skip counts n bytes within what skippable said.
func (r *bodyReader) skip(n int64) {
	if r.kind != byClose {
		r.remain -= n
	}
	r.sink.Count(n)
}

// keep adds b to the partial line, within bounds.
func (r *bodyReader) keep(b []byte) error {
	if len(r.line)+len(b) > r.max {
		return errTooLarge(r.max)
	}
	r.line = append(r.line, b...)
	return nil
}

// endLine acts on a complete chunk-size line or chunk-data CRLF.
func (r *bodyReader) endLine(line string) error {
	if r.state == chunkDataEnd {
		if line != "" {
			return malformed("chunk data longer than its size")
		}
		r.state = chunkSize
		return nil
	}
	size, _, _ := strings.Cut(line, ";") // chunk-ext is ignored
	size = trimOWS(size)
	if size == "" || len(size) > 15 || strings.Trim(size, "0123456789abcdefABCDEF") != "" {
		return malformed("bad chunk size %.20q", line)
	}
	v, err := strconv.ParseInt(size, 16, 64)
	if err != nil {
		return malformed("bad chunk size %.20q", line)
	}
	if r.remain = v; v == 0 {
		r.state = chunkTrailer
		return nil
	}
	r.state = chunkData
	return nil
}

// trailerBytes collects the trailer section, which ends with an empty
// line, and parses its fields.
func (r *bodyReader) trailerBytes(b []byte) (n int, done bool, err error) {
	for n < len(b) {
		i := bytes.IndexByte(b[n:], '\n')
		if i < 0 {
			return len(b), false, r.keep(b[n:])
		}
		if err := r.keep(b[n : n+i+1]); err != nil {
			return n, false, err
		}
		n += i + 1
		sec := r.line
		if !(string(sec) == "\n" || string(sec) == "\r\n" ||
			bytes.HasSuffix(sec, []byte("\n\n")) || bytes.HasSuffix(sec, []byte("\n\r\n"))) {
			continue
		}
		// The section is complete. splitHead wants a start line first.
		_, fields, err := splitHead(append([]byte("trailer\r\n"), sec...))
		if err != nil {
			return n, false, err
		}
		r.trailer = fields
		r.line = nil
		return n, true, nil
	}
	return n, false, nil
}

// end says the connection's direction ended. It returns whether the body
// is complete: only a byClose body is.
func (r *bodyReader) end() bool { return r.kind == byClose || r.kind == noBody }
