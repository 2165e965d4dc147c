// Package http1 dissects HTTP/1.0 and HTTP/1.1 connections (RFC 9112):
// it pairs requests with responses, in order, across keep-alive and
// pipelining, removes chunked framing, decodes content codings and emits
// one event.HTTP per exchange at each phase (request, response, done).
//
// After a 101 response to an Upgrade request it hands the connection to
// the dissector its Upgrade func makes for the new protocol (WebSocket,
// h2c); after a 2xx response to CONNECT, or an upgrade nobody dissects,
// the bytes are opaque and dissection stops quietly. A connection that
// starts with the HTTP/2 preface (prior knowledge, RFC 9113 §3.3) is not
// HTTP/1: give it to the http2 dissector instead.
package http1

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/dissect/internal/body"
	"github.com/htapod/htapod/event"
)

// Upgrade makes the dissector of the protocol a connection switched to
// after a 101 response: proto is the first token of the response's
// Upgrade field, lower case and without its version ("websocket",
// "h2c"). It returns nil for a protocol it does not dissect.
type Upgrade func(proto string, meta dissect.Meta, opts dissect.Options, emit dissect.Emit) dissect.Stream

// Dissector is the name of this dissector in event.Unparsed.
const Dissector = "http/1"

// maxQueue bounds how many requests may await their responses: each one
// holds its head.
const maxQueue = 64

// stream is the HTTP/1 dissector of one connection.
type stream struct {
	meta  dissect.Meta
	opts  dissect.Options // with the defaults filled in
	given dissect.Options // as given, for the protocol after an upgrade
	emit  dissect.Emit
	upg   Upgrade // nil: upgrades are not dissected
	seq   uint32
	queue []*exchange // exchanges not yet done, in request order

	up   upSide
	down side

	sub            dissect.Stream // the dissector after an upgrade
	resp101        []event.Header // the 101 response's fields, for sub (dissect.Meta.Switched)
	subUp, subDown bool           // which directions go to sub
	subFailed      bool           // sub returned an error (and said so)
	stopped        bool           // dissection ended quietly
	closed         bool
	err            error // dissection ended with this error
}

// side is the parser of one direction.
type side struct {
	head headBuf
	body *bodyReader // the body being read, or nil between messages
	cur  *exchange   // the exchange body belongs to
}

// upSide is the request direction. After a request that asks to leave
// HTTP/1 (CONNECT, Upgrade) its bytes wait in hold for the response.
type upSide struct {
	side
	holding *exchange
	hold    []byte
	holdT   time.Time
}

var (
	_ dissect.Stream  = (*stream)(nil)
	_ dissect.Skipper = (*stream)(nil)
)

// New returns the HTTP/1 dissector of the flow meta. It reports to emit;
// opts bound what it keeps (see dissect.Options). A connection that
// switches protocol is not dissected past the 101; NewUpgrading follows
// it. The returned Stream is not safe for concurrent use, as
// dissect.Stream allows.
func New(meta dissect.Meta, opts dissect.Options, emit dissect.Emit) dissect.Stream {
	return NewUpgrading(meta, opts, emit, nil)
}

// NewUpgrading is New with the dissectors of upgraded connections: after
// a 101 response the connection's bytes go to the Stream upgrade makes
// (with opts as given), or, when upgrade is nil or returns nil,
// dissection stops quietly.
func NewUpgrading(meta dissect.Meta, opts dissect.Options, emit dissect.Emit, upgrade Upgrade) dissect.Stream {
	return &stream{meta: meta, opts: opts.Limits(), given: opts, emit: emit, upg: upgrade}
}

// Data implements dissect.Stream.
func (s *stream) Data(dir event.Direction, b []byte, t time.Time) error {
	if s.err != nil {
		return s.err
	}
	if s.stopped || s.closed {
		return nil
	}
	var err error
	if dir == event.Up {
		err = s.upData(b, t)
	} else {
		err = s.downData(b, t)
	}
	if err != nil {
		s.fail(err, t)
	}
	return err
}

// Skippable implements dissect.Skipper: the rest of a body that is only
// counted (not coded, and beyond Options.BodyLimit), or everything once
// dissection has stopped (a CONNECT tunnel).
func (s *stream) Skippable(dir event.Direction) int64 {
	switch {
	case s.err != nil || s.closed:
		return 0
	case s.stopped:
		return math.MaxInt64
	case dir == event.Up:
		if s.subUp || s.up.holding != nil {
			return 0
		}
		return s.up.body.skippable()
	case s.subDown:
		return 0
	}
	return s.down.body.skippable()
}

// Skip implements dissect.Skipper.
func (s *stream) Skip(dir event.Direction, n int64, t time.Time) {
	if s.err != nil || s.stopped || s.closed {
		return
	}
	body := s.down.body
	if dir == event.Up {
		body = s.up.body
	}
	if body != nil {
		body.skip(n)
	}
}

// End implements dissect.Stream.
func (s *stream) End(dir event.Direction, t time.Time) {
	switch {
	case s.err != nil || s.stopped || s.closed:
	case dir == event.Up && s.subUp, dir == event.Down && s.subDown:
		s.sub.End(dir, t)
	case dir == event.Down:
		// RFC 9112 §6.3: without Content-Length or chunked, a response
		// body ends when the server closes the connection.
		if s.down.body != nil && s.down.body.end() {
			s.endResponse(t)
		}
	}
}

// Close implements dissect.Stream. Exchanges still open are emitted done
// with Err saying what was missing.
func (s *stream) Close(t time.Time) {
	if s.closed {
		return
	}
	s.closed = true
	if s.sub != nil {
		s.sub.Close(t)
	}
	if s.err == nil && s.down.body != nil && s.down.body.end() {
		s.endResponse(t)
	}
	if s.err == nil && !s.stopped && len(s.up.head.buf) > 0 {
		// A client that stops in the middle of a request head (a slowloris,
		// or one cut off) leaves no exchange to show: say what was seen.
		s.emit(&event.Unparsed{FlowID: s.meta.FlowID, Time: t, Dissector: Dissector,
			Reason: fmt.Sprintf("the connection closed in the middle of a request head (%d bytes, since %s)",
				len(s.up.head.buf), s.up.head.t.Format("15:04:05.000"))})
	}
	for _, x := range slices.Clone(s.queue) {
		why := "request body cut short"
		switch {
		case !x.respHead:
			why = "connection closed before the response"
		case !x.respDone:
			why = "response body cut short"
		}
		s.done(x, t, why)
	}
}

// fail ends dissection with err at t: open exchanges are emitted done and
// an Unparsed event says why (unless the upgraded dissector already did).
func (s *stream) fail(err error, t time.Time) {
	s.err = err
	for _, x := range slices.Clone(s.queue) {
		s.done(x, t, "not dissected further: "+err.Error())
	}
	if !s.subFailed {
		s.emit(&event.Unparsed{FlowID: s.meta.FlowID, Time: t, Dissector: Dissector, Reason: err.Error()})
	}
}

// stop ends dissection quietly: the rest of the connection is not HTTP/1
// (a CONNECT tunnel, an upgrade nobody dissects).
func (s *stream) stop(t time.Time) {
	s.stopped = true
	for _, x := range slices.Clone(s.queue) {
		s.done(x, t, "")
	}
}

// toSub passes bytes to the dissector after an upgrade.
func (s *stream) toSub(dir event.Direction, b []byte, t time.Time) error {
	if len(b) == 0 {
		return nil
	}
	if err := s.sub.Data(dir, b, t); err != nil {
		s.subFailed = true
		return err
	}
	return nil
}

// switchTo hands the connection to the dissector of proto. It returns
// false, having stopped dissection, when there is none.
func (s *stream) switchTo(proto string, t time.Time) bool {
	if s.upg != nil {
		meta := s.meta
		meta.Switched = s.resp101
		s.sub = s.upg(proto, meta, s.given, s.emit)
	}
	if s.sub == nil {
		s.stop(t)
		return false
	}
	s.subDown = true
	return true
}

// upgradeProto is the protocol a 101 response switched to, lower case and
// without its version ("websocket", "h2c").
func upgradeProto(h []event.Header) string {
	up := body.FieldList(h, "Upgrade")
	if len(up) == 0 {
		return ""
	}
	p, _, _ := strings.Cut(up[0], "/")
	return strings.ToLower(trimOWS(p))
}

// errQueue is the error of a client that pipelines too many requests.
func errQueue() error {
	return fmt.Errorf("more than %d requests await their responses: %w", maxQueue, dissect.ErrTooLarge)
}
