package dns

import (
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
)

// NewTCP returns the dissector of a TCP flow carrying DNS: each message
// "prefixed with a two byte length field which gives the message length,
// excluding the two byte length field" (RFC 1035 §4.2.2), split across
// Data calls anywhere. Queries may be pipelined and answered in any order
// (RFC 7766 §6.2.1.1): they are matched by ID and question. Events are
// those of NewUDP; a message's time is that of the Data call completing
// it.
func NewTCP(meta dissect.Meta, opts dissect.Options, emit dissect.Emit) dissect.Stream {
	return &tcp{m: newMatcher(meta, event.TCP, emit)}
}

var _ dissect.Stream = (*tcp)(nil)

// tcp is the dissector of DNS over TCP. part holds, per direction, the
// start of a message not all there yet: at most 2+65535 bytes past the
// Data call that brought it.
type tcp struct {
	m    *matcher
	part [2][]byte
}

// Data implements dissect.Stream.
func (s *tcp) Data(dir event.Direction, b []byte, t time.Time) error {
	if s.m.failed || dir < 0 || int(dir) >= len(s.part) {
		return nil
	}
	part := &s.part[dir]
	in := b
	if len(*part) > 0 {
		*part = append(*part, b...)
		in = *part
	}
	for len(in) >= 2 {
		n := int(in[0])<<8 | int(in[1])
		if len(in) < 2+n {
			break
		}
		if err := s.m.message(in[2:2+n], t); err != nil {
			s.part = [2][]byte{}
			return err
		}
		in = in[2+n:]
	}
	// Keep the rest; copy (which may overlap *part) only what is left.
	*part = append((*part)[:0], in...)
	return nil
}

// End implements dissect.Stream. A message cut short by the end of its
// direction is dropped: its query, if it was one, stays unanswered.
func (s *tcp) End(dir event.Direction, t time.Time) {
	if dir >= 0 && int(dir) < len(s.part) {
		s.part[dir] = nil
	}
}

// Close implements dissect.Stream.
func (s *tcp) Close(t time.Time) {
	s.part = [2][]byte{}
	s.m.close()
}
