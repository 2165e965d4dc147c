package http1

import (
	"fmt"
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
)

// upData parses requests from the client's bytes.
func (s *stream) upData(b []byte, t time.Time) error {
	u := &s.up
	for len(b) > 0 {
		switch {
		case s.stopped:
			return nil
		case s.subUp:
			return s.toSub(event.Up, b, t)
		case u.holding != nil:
			// The bytes after CONNECT or Upgrade are HTTP/1 only if the
			// response refuses; a client may send them early (TLS over
			// CONNECT, optimistic WebSocket frames), so keep them, bounded.
			if len(u.hold)+len(b) > s.opts.MaxHeaderBytes {
				return fmt.Errorf("more than %d bytes sent before the response to %s: %w",
					s.opts.MaxHeaderBytes, u.holding.ev.Method, dissect.ErrTooLarge)
			}
			if len(u.hold) == 0 {
				u.holdT = t
			}
			u.hold = append(u.hold, b...)
			return nil
		case u.body != nil:
			n, done, err := u.body.feed(b)
			b = b[n:]
			if err != nil {
				return fmt.Errorf("request %d body: %w", u.cur.ev.Seq, err)
			}
			if done {
				if err := s.endRequest(t); err != nil {
					return err
				}
			}
			continue
		}
		head, n, err := u.head.take(b, t, s.opts.MaxHeaderBytes)
		rest := b[n:]
		if err != nil {
			return fmt.Errorf("request head: %w", err)
		}
		if head != nil {
			err = s.request(head, t)
			u.head.reset()
			if err != nil {
				return err
			}
		}
		b = rest
	}
	return nil
}

// request starts the exchange of a complete request head.
func (s *stream) request(head []byte, t time.Time) error {
	start, h, err := splitHead(head)
	if err != nil {
		return fmt.Errorf("request head: %w", err)
	}
	rl, err := parseRequestLine(start)
	if err != nil {
		return err
	}
	if !validVersion(rl.proto) {
		return malformed("request version %.20q is not HTTP/1", rl.proto)
	}
	kind, n, err := requestFraming(h)
	if err != nil {
		return err
	}
	if len(s.queue) >= maxQueue {
		return errQueue()
	}
	x := s.newExchange(rl, h, s.up.head.t)
	s.queue = append(s.queue, x)
	s.emitPhase(x, event.PhaseRequest)
	s.up.cur = x
	if kind == noBody {
		return s.endRequest(t)
	}
	s.up.body = &bodyReader{kind: kind, remain: n, max: s.opts.MaxHeaderBytes, sink: x.req}
	return nil
}

// endRequest completes the request whose body was being read.
func (s *stream) endRequest(t time.Time) error {
	u := &s.up
	x := u.cur
	if u.body != nil {
		x.ev.ReqTrailer = u.body.trailer
	}
	u.body, u.cur = nil, nil
	x.reqDone = true
	x.req.End(true)
	switch {
	case s.sub != nil:
		// A 101 came before the end of the request body (RFC 9113 §3.2:
		// the client sends the whole body before HTTP/2 frames).
		s.subUp = true
	case x.tunnel && !x.resolved:
		u.holding = x
	}
	s.maybeDone(x, t)
	return nil
}

// release ends the hold of the exchange x whose response came: the held
// bytes go on as HTTP/1 or, after an upgrade, to the new dissector.
func (s *stream) release(x *exchange) error {
	u := &s.up
	if u.holding != x {
		return nil
	}
	hold, t := u.hold, u.holdT
	u.holding, u.hold = nil, nil
	if s.sub != nil {
		s.subUp = true
	}
	return s.upData(hold, t)
}
