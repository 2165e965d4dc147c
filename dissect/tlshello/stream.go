package tlshello

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
)

// dissectorName names this dissector in event.Unparsed.
const dissectorName = "tls"

// New returns the dissector of a TLS flow that htapod relays without
// intercepting it (passthrough). It emits one event.TLS: SNI and
// ALPNOffered from the ClientHello, with Intercepted false, and Version
// and ALPN from the ServerHello when the server's first record shows them
// (ALPN stays "" for TLS 1.3, which encrypts it). The event goes out when
// the ServerHello has been read, when the server's stream is not a
// handshake or ends, or at Close, with what is known by then. After that
// the dissector ignores the flow's bytes.
//
// When the ClientHello cannot be parsed it emits an event.Unparsed and
// Data returns the error. opts is not used: the hellos are bounded by
// MaxLen.
func New(meta dissect.Meta, opts dissect.Options, emit dissect.Emit) dissect.Stream {
	return &stream{meta: meta, emit: emit}
}

// NewParsed is New for a flow whose ClientHello h the caller has already
// parsed (the relay reads it to decide on interception): the Up bytes,
// which start with that hello, are not parsed again. The event's Time is
// that of the first Data call.
func NewParsed(meta dissect.Meta, h *Hello, emit dissect.Emit) dissect.Stream {
	return &stream{meta: meta, emit: emit, hello: h}
}

// Event returns the event.TLS of a flow's ClientHello h seen at t: SNI,
// offered ALPN and versions, to be completed by whoever sees the server's answer.
func Event(meta dissect.Meta, h *Hello, t time.Time) *event.TLS {
	return &event.TLS{FlowID: meta.FlowID, Time: t, Server: meta.Dst, SNI: h.SNI, ALPNOffered: h.ALPN,
		VersionsOffered: h.OfferedVersions()}
}

var _ dissect.Stream = (*stream)(nil)

// stream is the passthrough dissector. It buffers each direction only
// while its hello is incomplete, at most MaxLen bytes.
type stream struct {
	meta     dissect.Meta
	emit     dissect.Emit
	up, down []byte
	// upNeed and downNeed say how long up and down must grow before
	// parsing again is worth it.
	upNeed, downNeed int
	ev               *event.TLS // the ClientHello's event, once parsed
	hello            *Hello     // parsed by the caller (NewParsed), until ev is made
	done             bool       // emitted (or gave up): ignore the rest
}

// Data implements dissect.Stream.
func (s *stream) Data(dir event.Direction, b []byte, t time.Time) error {
	if s.hello != nil {
		s.ev, s.hello = Event(s.meta, s.hello, t), nil
	}
	switch {
	case s.done:
		return nil
	case dir == event.Up && s.ev == nil:
		h, err := parseMore(&s.up, &s.upNeed, b, parse)
		if errors.Is(err, ErrIncomplete) {
			return nil
		}
		if err != nil {
			return s.fail(t, fmt.Errorf("parse ClientHello: %w", err))
		}
		s.ev = Event(s.meta, h, t)
		if len(s.down) == 0 {
			return nil
		}
		// The server's bytes came first (they cannot be its answer, but
		// the relay may queue directions apart): read them now.
		return s.server(nil, t)
	case dir == event.Down && s.ev == nil:
		if len(s.down)+len(b) > MaxLen {
			return s.fail(t, fmt.Errorf("%w: server sent %d bytes before the ClientHello", dissect.ErrTooLarge, len(s.down)+len(b)))
		}
		s.down = append(s.down, b...)
		return nil
	case dir == event.Down:
		return s.server(b, t)
	}
	return nil // Up after the ClientHello
}

// server reads the next bytes b of the server's stream, after any it has
// buffered, for the ServerHello.
func (s *stream) server(b []byte, t time.Time) error {
	sh, err := parseMore(&s.down, &s.downNeed, b, parseServerHello)
	switch {
	case errors.Is(err, ErrIncomplete):
		return nil
	case errors.Is(err, dissect.ErrNotProtocol):
		// An alert, say: the handshake is not in the clear for us.
		s.finish()
		return nil
	case err != nil:
		s.finish()
		return s.fail(t, fmt.Errorf("parse ServerHello: %w", err))
	}
	s.ev.Version = VersionName(sh.version)
	s.ev.ALPN = sh.alpn
	s.ev.CipherSuite = tls.CipherSuiteName(sh.suite)
	s.finish()
	return nil
}

// End implements dissect.Stream. When the server's stream ends before a
// ServerHello, the event goes out with what is known.
func (s *stream) End(dir event.Direction, t time.Time) {
	if dir == event.Down && s.ev != nil && !s.done {
		s.finish()
	}
}

// Close implements dissect.Stream. It emits the event if it is still due,
// or an event.Unparsed when the flow ended inside the ClientHello.
func (s *stream) Close(t time.Time) {
	if s.hello != nil {
		s.ev, s.hello = Event(s.meta, s.hello, t), nil
	}
	switch {
	case s.done:
	case s.ev != nil:
		s.finish()
	case len(s.up) > 0:
		s.fail(t, fmt.Errorf("flow closed after %d bytes of an incomplete ClientHello", len(s.up)))
	}
	s.done = true
}

// finish emits the event and stops.
func (s *stream) finish() {
	s.emit(s.ev)
	s.done, s.up, s.down = true, nil, nil
}

// fail reports that the dissector gives up on the flow, and returns err.
func (s *stream) fail(t time.Time, err error) error {
	s.emit(&event.Unparsed{FlowID: s.meta.FlowID, Time: t, Dissector: dissectorName, Reason: err.Error()})
	s.done, s.up, s.down = true, nil, nil
	return err
}

// parseMore parses the bytes in *buf followed by b, once they reach
// *need bytes. It copies b into *buf only when parse wants more bytes, so
// a hello that arrives in one piece is parsed in place; it empties *buf
// once parse has decided.
func parseMore[T any](buf *[]byte, need *int, b []byte, parse func([]byte) (T, int, error)) (T, error) {
	if len(*buf)+len(b) < *need {
		var zero T
		*buf = append(*buf, b...)
		return zero, ErrIncomplete
	}
	in := b
	if len(*buf) > 0 {
		*buf = append(*buf, b...)
		in = *buf
	}
	v, n, err := parse(in)
	switch {
	case !errors.Is(err, ErrIncomplete):
		*buf = nil
	case len(*buf) == 0:
		*buf = append([]byte(nil), b...)
	}
	*need = n
	return v, err
}
