// Package body decodes HTTP message bodies for the HTTP/1 and HTTP/2
// dissectors, into an event.Body.
//
// A dissector removes a body's framing (HTTP/1 chunked coding, HTTP/2
// DATA frames and their padding) and writes the content to a Sink, in
// pieces of any size, as they arrive. The Sink counts the content, undoes
// its content codings (RFC 9110 section 8.4: gzip, deflate, br, zstd,
// stacked up to three deep) as the bytes come and keeps only the first
// bytes of the decoded body. Its memory is bounded by that limit plus the
// decompressors' windows, whatever the body's size.
//
// A Sink runs nothing concurrently with its caller, like the dissectors:
// each decompressor is a coroutine (iter.Pull) that runs only while Write
// or End waits for it, and is released when the body ends or fails to
// decode.
package body

import (
	"slices"
	"strings"

	"github.com/htapod/htapod/event"
)

// maxCodings bounds how many content codings a body may stack; each one
// holds a decompressor's window. A body with more fails to decode.
const maxCodings = 3

// A Sink takes the content of one message body and makes its event.Body.
// Data holds at most the limit given to New; Size and DecodedSize count
// the whole body.
//
// The zero Sink is not usable: make one with New. A nil *Sink stands for
// a message that has no body yet; only Event and ContentType may be
// called on it. Every Sink written to must be ended with End, which
// releases its decompressors. A Sink is not safe for concurrent use.
type Sink struct {
	ev    event.Body
	limit int
	// codings are the content codings to undo, in the order they were
	// applied; nil for none.
	codings []string
	// decs[i] undoes codings[i]. They are made at the first byte and set
	// to nil once released (the body ended or failed).
	decs []*decoder
	// failed says a coding is unknown or decoding failed: DecodedSize is
	// -1 once a byte arrived.
	failed bool
	// ended says End was called: later bytes are ignored.
	ended bool
}

// New returns a Sink that keeps at most limit decoded bytes (none when
// limit is zero or negative). Until Head is called the body has no content
// coding and no content type.
func New(limit int) *Sink {
	return &Sink{limit: max(limit, 0)}
}

// Head takes Content-Type and Content-Encoding from h, the header section
// of the body's message. Call it once, before the first Write; bytes
// written before it are taken as not coded (as HTTP/2 DATA that came
// before its HEADERS).
//
// Content-Encoding lists the codings in the order they were applied (RFC
// 9110 section 8.4); "identity" is skipped and "x-gzip" is gzip (section
// 8.4.1.3). A coding other than gzip, deflate, br and zstd, or more than
// three of them, makes the body fail to decode.
func (s *Sink) Head(h []event.Header) {
	s.ev.ContentType = mediaType(h)
	enc := FieldList(h, "Content-Encoding")
	s.ev.Encoding = strings.ToLower(strings.Join(enc, ", "))
	cs, ok := codings(enc)
	s.codings, s.failed = cs, !ok
}

// ContentType returns the media type of the body's Content-Type, lower
// case and without parameters, or "" (also for a nil Sink).
func (s *Sink) ContentType() string {
	if s == nil {
		return ""
	}
	return s.ev.ContentType
}

// Write takes the next bytes of the content, framing removed. p is only
// read during the call. Bytes after End are ignored. Bytes after the end
// of the coded data are ignored too, except by gzip and zstd, which read
// them as a further member or frame (RFC 1952 section 2.2, RFC 8878
// section 3.1) and fail if they are not one.
func (s *Sink) Write(p []byte) {
	if len(p) == 0 || s.ended {
		return
	}
	s.ev.Size += int64(len(p))
	switch {
	case s.failed:
	case len(s.codings) == 0:
		s.keep(p)
	default:
		if s.decs == nil {
			s.start()
		}
		if s.decs[len(s.decs)-1].write(p) != nil || s.decodeFailed() {
			s.fail()
		}
	}
}

// Counting says the bytes to come change nothing but the counts: the body
// has no coding to undo (or failed to decode) and keeps no more bytes.
func (s *Sink) Counting() bool {
	return s.ended || s.failed || len(s.codings) == 0 && len(s.ev.Data) >= s.limit
}

// Count counts n bytes written while Counting, without them.
func (s *Sink) Count(n int64) {
	if n <= 0 || s.ended {
		return
	}
	s.ev.Size += n
	if !s.failed {
		s.ev.DecodedSize += n
		s.ev.Truncated = true
	}
}

// End ends the body; later calls do nothing. complete says all of it
// arrived: a coded body must then decode to its end, or DecodedSize is -1.
// A coded body cut short (complete false) is Truncated and keeps all that
// the bytes that came decode to; a body that is not coded is kept as it
// is, not Truncated (the dissector's event says it was cut short).
func (s *Sink) End(complete bool) {
	if s.ended {
		return
	}
	s.ended = true
	if s.decs == nil {
		return
	}
	// The decoder that takes the content is closed first, so that what
	// it flushes reaches the decoders after it before they are closed. A
	// decompressor flushes what it holds when its input ends, also when
	// it ends too soon (then with an error, the cut's, not the body's).
	for i := len(s.decs) - 1; i >= 0; i-- {
		if s.decs[i].close() != nil && complete {
			s.failed = true
		}
	}
	s.decs = nil
	if !complete {
		s.ev.Truncated = true
	}
}

// Event returns the body as known so far. Its Data is clipped, so that
// the Sink's later appends never share its array; it must not be
// modified. A nil Sink returns the zero Body.
func (s *Sink) Event() event.Body {
	if s == nil {
		return event.Body{}
	}
	b := s.ev
	b.Data = slices.Clip(b.Data)
	if s.failed && b.Size > 0 {
		b.DecodedSize, b.Truncated = -1, true
	}
	return b
}

// start makes the decoders: the last coding applied is undone first, and
// each decoder passes its output to the one undoing the coding before.
func (s *Sink) start() {
	s.decs = make([]*decoder, len(s.codings))
	out := s.keep
	for i, c := range s.codings {
		d := newDecoder(c, out)
		s.decs[i] = d
		out = func(p []byte) { _ = d.write(p) }
	}
}

// decodeFailed reports whether a decoder of the chain failed; an inner
// one fails within the outer one's write.
func (s *Sink) decodeFailed() bool {
	for _, d := range s.decs {
		if d.err != nil {
			return true
		}
	}
	return false
}

// fail marks decoding failed and releases the decoders.
func (s *Sink) fail() {
	s.failed = true
	s.release()
}

// release ends the decoders without finishing them.
func (s *Sink) release() {
	for _, d := range s.decs {
		d.abort()
	}
	s.decs = nil
}

// keep takes decoded bytes: it counts them and keeps those within limit.
func (s *Sink) keep(p []byte) {
	s.ev.DecodedSize += int64(len(p))
	if room := s.limit - len(s.ev.Data); len(p) > room {
		p, s.ev.Truncated = p[:max(room, 0)], true
	}
	s.ev.Data = append(s.ev.Data, p...)
}

// codings returns the codings to undo of a Content-Encoding list, in the
// order they were applied, and whether every one is known and there are
// at most maxCodings.
func codings(list []string) ([]string, bool) {
	var cs []string
	for _, c := range list {
		switch c = strings.ToLower(c); c {
		case "identity":
			continue
		case "x-gzip":
			c = "gzip"
		case "gzip", "deflate", "br", "zstd":
		default:
			return nil, false
		}
		if len(cs) == maxCodings {
			return nil, false
		}
		cs = append(cs, c)
	}
	return cs, true
}

// mediaType returns the media type of the first Content-Type in h that
// has one, lower case and without parameters (RFC 9110 section 8.3.1).
func mediaType(h []event.Header) string {
	for _, f := range h {
		if !strings.EqualFold(f.Name, "Content-Type") {
			continue
		}
		v, _, _ := strings.Cut(f.Value, ";")
		if v = strings.ToLower(trimOWS(v)); v != "" {
			return v
		}
	}
	return ""
}

// FieldList returns the elements of every field line of h named name
// (case-insensitive), trimmed and with empty elements dropped (RFC 9110
// section 5.6.1). The HTTP/1 dissector uses it for its framing fields.
func FieldList(h []event.Header, name string) []string {
	var out []string
	for _, f := range h {
		if !strings.EqualFold(f.Name, name) {
			continue
		}
		for e := range strings.SplitSeq(f.Value, ",") {
			if e = trimOWS(e); e != "" {
				out = append(out, e)
			}
		}
	}
	return out
}

// trimOWS removes optional whitespace (RFC 9110 section 5.6.3: spaces and
// horizontal tabs) around s.
func trimOWS(s string) string { return strings.Trim(s, " \t") }
