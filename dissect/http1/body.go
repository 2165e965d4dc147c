package http1

import (
	"slices"
	"strings"

	"github.com/htapod/htapod/event"
)

// bodySink counts a message's content, decodes its content codings as it
// arrives and keeps the first limit decoded bytes. Its memory is bounded
// by limit plus the decompressors' windows, whatever the body's size.
type bodySink struct {
	limit     int
	size      int64 // content bytes, after chunked framing is removed
	decoded   int64
	data      []byte
	truncated bool
	encoding  string
	ctype     string
	codings   []string   // to undo, in the order applied; nil for none
	decs      []*decoder // decs[i] undoes codings[i]; made at the first byte
	failed    bool       // decoding failed: DecodedSize is -1
	finished  bool
}

// newSink returns the sink of a message with header h.
func newSink(h []event.Header, limit int) *bodySink {
	s := &bodySink{limit: limit, ctype: mediaType(h)}
	ce := list(h, "Content-Encoding")
	s.encoding = strings.ToLower(strings.Join(ce, ", "))
	cs, ok := codings(ce)
	s.codings, s.failed = cs, !ok
	return s
}

// write takes content bytes; p is only read during the call.
func (s *bodySink) write(p []byte) {
	if len(p) == 0 || s.finished {
		return
	}
	s.size += int64(len(p))
	switch {
	case s.failed:
	case len(s.codings) == 0:
		s.keep(p)
	default:
		if s.decs == nil {
			s.start()
		}
		s.decs[len(s.decs)-1].write(p)
		s.check()
	}
}

// start makes the decoders: the last coding applied is undone first, and
// each decoder passes its output to the one undoing the coding before.
func (s *bodySink) start() {
	s.decs = make([]*decoder, len(s.codings))
	out := s.keep
	for i, c := range s.codings {
		s.decs[i] = newDecoder(c, out)
		out = s.decs[i].write
	}
}

// check marks the body failed as soon as a decoder failed, and releases
// the decoders.
func (s *bodySink) check() {
	for _, d := range s.decs {
		if d.err != nil {
			s.failed = true
			s.abort()
			return
		}
	}
}

// keep takes decoded bytes.
func (s *bodySink) keep(p []byte) {
	s.decoded += int64(len(p))
	room := s.limit - len(s.data)
	if len(p) > room {
		p, s.truncated = p[:room], true
	}
	s.data = append(s.data, p...)
}

// finish ends the content: the decoders flush and are released.
func (s *bodySink) finish() {
	if s.finished {
		return
	}
	for i := len(s.decs) - 1; i >= 0; i-- {
		if err := s.decs[i].close(); err != nil {
			s.failed = true
		}
	}
	s.abort()
	s.finished = true
}

// abort releases the decoders without finishing them.
func (s *bodySink) abort() {
	for _, d := range s.decs {
		d.abort()
	}
	s.decs = s.decs[:0]
}

// body returns the event form of what the sink holds so far.
func (s *bodySink) body() event.Body {
	if s == nil {
		return event.Body{}
	}
	b := event.Body{
		Size:        s.size,
		Encoding:    s.encoding,
		ContentType: s.ctype,
		Data:        slices.Clip(s.data),
		DecodedSize: s.decoded,
		Truncated:   s.truncated,
	}
	if s.failed && s.size > 0 {
		b.DecodedSize, b.Truncated = -1, true
	}
	return b
}
