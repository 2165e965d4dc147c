// Package http2 dissects HTTP/2 connections (RFC 9113): h2 negotiated by
// ALPN over intercepted TLS, h2c with prior knowledge, and h2c reached by
// an HTTP/1.1 "Upgrade: h2c" (RFC 7540 section 3.2).
//
// It is pure, like every dissector: bytes in, event.HTTP out, one exchange
// per stream (Seq is the stream ID). Frames are parsed by
// golang.org/x/net/http2's Framer and header blocks by one hpack.Decoder
// per direction, fed only complete frames from a per-direction buffer.
//
// Memory is bounded per connection: a direction buffers at most one frame
// (no larger than the SETTINGS_MAX_FRAME_SIZE its receiver advertised), a
// header list at most Options.MaxHeaderBytes, the HPACK dynamic tables at
// most maxTableSize each, and at most maxOpenStreams streams each keep at
// most Options.BodyLimit decoded bytes per body; the rest is counted.
package http2

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
)

// ClientPreface is the client connection preface (RFC 9113 section 3.4)
// that starts the Up bytes of every HTTP/2 connection.
const ClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// Bounds of one connection's state beyond those of dissect.Options.
const (
	// maxOpenStreams bounds the streams tracked at once. Peers advertise
	// SETTINGS_MAX_CONCURRENT_STREAMS of 100 to 1000.
	maxOpenStreams = 1024
	// maxTableSize caps the HPACK dynamic table a peer may ask for with
	// SETTINGS_HEADER_TABLE_SIZE (browsers ask for 64 KiB).
	maxTableSize = 1 << 20
)

// conn is the dissector of one HTTP/2 connection. It implements
// dissect.Stream; like every Stream it is not safe for concurrent use.
type conn struct {
	meta  dissect.Meta
	opts  dissect.Options
	emit  dissect.Emit
	proto string

	// preface counts the bytes of ClientPreface still expected on Up.
	preface  int
	up, down *side
	streams  map[uint32]*stream
	// draining counts the streams waiting for their request after the
	// server's reset (stream.drainFrom).
	draining int
	// lastClient and lastServer are the highest stream IDs each side
	// opened; a lower ID that is not in streams is closed.
	lastClient, lastServer uint32

	err    error // why Data failed; no more Data after it
	closed bool
}

var _ dissect.Stream = (*conn)(nil)

// New returns the dissector of an HTTP/2 connection whose first Up bytes
// are the client preface: h2 when meta.TLS (ALPN "h2"), h2c with prior
// knowledge otherwise. Events go to emit, synchronously from the calls of
// the returned Stream; zero fields of opts mean the defaults.
func New(meta dissect.Meta, opts dissect.Options, emit dissect.Emit) dissect.Stream {
	c := &conn{
		meta:    meta,
		opts:    opts.Limits(),
		emit:    emit,
		proto:   "h2c",
		preface: len(ClientPreface),
		streams: make(map[uint32]*stream),
	}
	if meta.TLS {
		c.proto = "h2"
	}
	c.up = newSide(c, event.Up)
	c.down = newSide(c, event.Down)
	return c
}

// NewUpgraded returns the dissector of a connection that switched to h2c
// after "Upgrade: h2c" and a 101 response, which the HTTP/1 dissector read
// and reported. Up starts with the client preface, Down with the server's
// SETTINGS. Stream 1 is the upgraded request, already sent in HTTP/1 (RFC
// 7540 section 3.2): its response is reported as the continuation of that
// exchange, with PhaseResponse and PhaseDone events of Seq 1 that carry
// Upgrade "h2c" and Interim [101] but no method, authority or path. Should
// the client send HEADERS on stream 1 before any response, the connection
// was h2c with prior knowledge after all and is dissected as by New.
func NewUpgraded(meta dissect.Meta, opts dissect.Options, emit dissect.Emit) dissect.Stream {
	c := New(meta, opts, emit).(*conn)
	st := c.newStream(1, time.Time{})
	st.reqHead, st.reqEnded, st.upgraded = true, true, true
	st.ev.Upgrade = "h2c"
	st.ev.Interim = []int{101}
	c.lastClient = 1
	return c
}

// Data implements dissect.Stream.
func (c *conn) Data(dir event.Direction, b []byte, t time.Time) error {
	if c.err != nil {
		return c.err
	}
	if c.closed {
		return nil
	}
	if dir == event.Up && c.preface > 0 {
		off := len(ClientPreface) - c.preface
		n := min(c.preface, len(b))
		if !bytes.Equal(b[:n], []byte(ClientPreface[off:off+n])) {
			return c.fail(fmt.Errorf("%w: no HTTP/2 client preface", dissect.ErrNotProtocol), t)
		}
		c.preface -= n
		b = b[n:]
	}
	s := c.down
	if dir == event.Up {
		s = c.up
	}
	if err := s.feed(b, t); err != nil {
		return c.fail(err, t)
	}
	return nil
}

// End implements dissect.Stream. A half-closed connection may still carry
// the other direction's frames, so streams stay open until Close.
func (c *conn) End(event.Direction, time.Time) {}

// Close implements dissect.Stream: streams still open end with Err
// "connection closed".
func (c *conn) Close(t time.Time) {
	if c.closed {
		return
	}
	c.closed = true
	c.finishAll(t, "connection closed", func(*stream) bool { return true })
}

// fail reports err once as event.Unparsed, ends the open streams and
// returns err wrapped for the caller.
func (c *conn) fail(err error, t time.Time) error {
	c.err = fmt.Errorf("dissect %s: %w", c.proto, err)
	c.emit(&event.Unparsed{
		FlowID:    c.meta.FlowID,
		Time:      t,
		Dissector: c.proto,
		Reason:    err.Error(),
	})
	c.finishAll(t, "dissector stopped: "+reason(err), func(*stream) bool { return true })
	c.closed = true
	return c.err
}

// reason names the kind of a dissection error in a few words.
func reason(err error) string {
	switch {
	case errors.Is(err, dissect.ErrTooLarge):
		return dissect.ErrTooLarge.Error()
	case errors.Is(err, dissect.ErrNotProtocol):
		return dissect.ErrNotProtocol.Error()
	}
	return dissect.ErrMalformed.Error()
}

// finishAll ends the open streams that match, in stream ID order.
func (c *conn) finishAll(t time.Time, why string, match func(*stream) bool) {
	ids := make([]uint32, 0, len(c.streams))
	for id, st := range c.streams {
		if match(st) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		c.finish(c.streams[id], t, why)
	}
}

// malformed returns an error wrapping dissect.ErrMalformed.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{dissect.ErrMalformed}, args...)...)
}

// tooLarge returns an error wrapping dissect.ErrTooLarge.
func tooLarge(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{dissect.ErrTooLarge}, args...)...)
}
