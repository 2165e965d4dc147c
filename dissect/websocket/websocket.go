// Package websocket dissects WebSocket connections (RFC 6455) from the
// first frame on: the HTTP/1 dissector hands a connection over after the
// 101 response of the opening handshake.
//
// It reassembles fragmented messages and emits one event.WebSocket per
// message and per control frame. Memory is bounded: a message's payload
// is kept up to the body limit and only counted beyond it.
//
// permessage-deflate (RFC 7692) is decoded: a message whose first frame
// has RSV1 set is inflated with the direction's flate stream, kept across
// messages unless the handshake agreed no_context_takeover.
package websocket

import (
	"fmt"
	"strings"
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
)

// Dissector is the name of this dissector in event.Unparsed.
const Dissector = "websocket"

// stream is the WebSocket dissector of one connection.
type stream struct {
	meta    dissect.Meta
	opts    dissect.Options
	emit    dissect.Emit
	deflate Deflate
	dirs    [2]parser
	err     error
}

var _ dissect.Stream = (*stream)(nil)

// New returns the WebSocket dissector of the flow meta, whose bytes start
// at a frame boundary in both directions. It reports to emit; opts bound
// the Data it keeps. The Stream is not safe for concurrent use.
//
// permessage-deflate's parameters are read from meta.Switched, the 101
// response's Sec-WebSocket-Extensions. Without the handshake's word on
// extensions, a message with RSV1 set is taken for permessage-deflate with
// context takeover both ways (a decoder that keeps the window also decodes
// a sender that resets it).
func New(meta dissect.Meta, opts dissect.Options, emit dissect.Emit) dissect.Stream {
	var ext []string
	for _, h := range meta.Switched {
		if strings.EqualFold(h.Name, "Sec-WebSocket-Extensions") {
			ext = append(ext, h.Value)
		}
	}
	return NewDeflate(meta, opts, emit, ParseExtensions(ext))
}

// NewDeflate is New for a connection whose handshake agreed d (see
// ParseExtensions).
func NewDeflate(meta dissect.Meta, opts dissect.Options, emit dissect.Emit, d Deflate) dissect.Stream {
	s := &stream{meta: meta, opts: opts.Limits(), emit: emit, deflate: d}
	s.dirs[event.Up].dir = event.Up
	s.dirs[event.Down].dir = event.Down
	for i := range s.dirs {
		s.dirs[i].s = s
	}
	return s
}

// Data implements dissect.Stream.
func (s *stream) Data(dir event.Direction, b []byte, t time.Time) error {
	if s.err != nil {
		return s.err
	}
	if err := s.dirs[dir&1].feed(b, t); err != nil {
		s.err = fmt.Errorf("websocket %s: %w", dir, err)
		s.emit(&event.Unparsed{FlowID: s.meta.FlowID, Time: t, Dissector: Dissector, Reason: s.err.Error()})
		return s.err
	}
	return nil
}

// End implements dissect.Stream. A message cut short by the end of its
// direction is not reported: the event has no way to say it is partial.
func (s *stream) End(event.Direction, time.Time) {}

// Close implements dissect.Stream.
func (s *stream) Close(time.Time) {}

// malformed wraps a description of broken input in dissect.ErrMalformed.
func malformed(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, dissect.ErrMalformed)...)
}

// Opcodes (RFC 6455 §5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

// opcodeNames names the opcodes as event.WebSocket does.
var opcodeNames = map[byte]string{
	opText: "text", opBinary: "binary", opClose: "close", opPing: "ping", opPong: "pong",
}

// isControl says op is a control frame's opcode (RFC 6455 §5.5).
func isControl(op byte) bool { return op&0x8 != 0 }

// noStatus is the close code reported for a close frame without a body:
// RFC 6455 §7.4.1, 1005 "is designated for use in applications expecting
// a status code to indicate that no status code was actually present".
const noStatus = 1005
