package http1

import (
	"fmt"
	"time"

	"github.com/htapod/htapod/dissect/internal/body"
	"github.com/htapod/htapod/event"
)

// downData parses responses from the server's bytes.
func (s *stream) downData(b []byte, t time.Time) error {
	d := &s.down
	for len(b) > 0 {
		switch {
		case s.stopped:
			return nil
		case s.subDown:
			return s.toSub(event.Down, b, t)
		case d.body != nil:
			n, done, err := d.body.feed(b)
			b = b[n:]
			if err != nil {
				return fmt.Errorf("response %d body: %w", d.cur.ev.Seq, err)
			}
			if done {
				s.endResponse(t)
			}
			continue
		}
		head, n, err := d.head.take(b, t, s.opts.MaxHeaderBytes)
		b = b[n:]
		if err != nil {
			return fmt.Errorf("response head: %w", err)
		}
		if head != nil {
			err = s.response(head, t)
			d.head.reset()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// front is the exchange the next response head belongs to.
func (s *stream) front() *exchange {
	for _, x := range s.queue {
		if !x.respDone {
			return x
		}
	}
	return nil
}

// response handles a complete response head.
func (s *stream) response(head []byte, t time.Time) error {
	start, h, err := splitHead(head)
	if err != nil {
		return fmt.Errorf("response head: %w", err)
	}
	sl, err := parseStatusLine(start)
	if err != nil {
		return err
	}
	x := s.front()
	if x == nil {
		return malformed("response %d without a request", sl.status)
	}
	if sl.status < 200 && sl.status != 101 {
		// RFC 9110 §15.2: interim responses precede the final one, e.g.
		// 100 Continue before the client sends its body.
		x.ev.Interim = append(x.ev.Interim, sl.status)
		return nil
	}
	x.ev.Status, x.ev.Reason, x.ev.RespHeader = sl.status, sl.reason, h
	x.ev.RespStart = s.down.head.t
	x.respHead = true
	x.resp = body.New(s.opts.BodyLimit)
	x.resp.Head(h)
	switch {
	case sl.status == 101:
		return s.switched(x, h, t)
	case x.ev.Method == "CONNECT" && sl.status < 300:
		// RFC 9110 §9.3.6: after a 2xx the connection is a tunnel.
		x.respDone, x.resolved = true, true
		s.emitPhase(x, event.PhaseResponse)
		s.done(x, t, "")
		s.stop(t)
		return nil
	}
	kind, n, err := responseFraming(x, sl.status, h)
	if err != nil {
		return err
	}
	s.emitPhase(x, event.PhaseResponse)
	s.down.cur = x
	if kind == noBody {
		s.endResponse(t)
	} else {
		s.down.body = &bodyReader{kind: kind, remain: n, max: s.opts.MaxHeaderBytes, sink: x.resp}
	}
	if x.tunnel && !x.resolved {
		x.resolved = true
		return s.release(x)
	}
	return nil
}

// switched handles a 101 (Switching Protocols) response to x: RFC 9110
// §15.2.2, "the server will switch to the protocols defined by the
// response's Upgrade header field immediately after the empty line".
func (s *stream) switched(x *exchange, h []event.Header, t time.Time) error {
	proto := upgradeProto(h)
	if proto == "" {
		return malformed("101 response without Upgrade")
	}
	x.ev.Upgrade = proto
	x.respDone, x.resolved = true, true
	s.emitPhase(x, event.PhaseResponse)
	s.resp101 = h
	if !s.switchTo(proto, t) {
		return nil
	}
	s.maybeDone(x, t)
	if x.reqDone {
		if s.up.holding == x {
			return s.release(x)
		}
		s.subUp = true
	}
	return nil
}

// endResponse completes the response whose body was being read.
func (s *stream) endResponse(t time.Time) {
	d := &s.down
	x := d.cur
	if d.body != nil {
		x.ev.RespTrailer = d.body.trailer
	}
	d.body, d.cur = nil, nil
	x.respDone = true
	x.resp.End(true)
	s.maybeDone(x, t)
}
