package relay

import (
	"bytes"
	"io"
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/internal/httpact"
)

// answerWait bounds how long a refused request's answer waits for the
// server to end its side after htapod ended the command's (it would, on
// responses to earlier requests still under way).
const answerWait = 2 * time.Second

// gate relays a plaintext HTTP/1 flow whose requests are only judged
// (Act.HostOnly) through an httpact.Gate: bytes pass as in pipe, each
// request once its head was judged.
func (f *Forwarder) gate(fl *event.Flow, meta dissect.Meta, inner, outer Conn, pending []byte, act *Act) (event.End, error) {
	marks := httpact.NewMarks()
	feeders := f.feedersFor(fl, meta, pending, nil, marks.Wrap(stamped(f.cfg.Events, fl.Process)))
	tee := feeders.tee()
	cfg := httpact.Config{Decide: act.Decide, Host: hostOf(meta), Marks: marks}
	g := httpact.NewGate(&primed{Conn: inner, b: pending}, cfg, tee)
	gc := &gatedConn{Conn: inner, g: g, outer: outer, tee: tee}
	res := Pipe(gc, outer, tee)
	if gc.timer != nil {
		gc.timer.Stop()
	}
	_, dropped := g.Answer()
	fl.Up += res.Up + int64(dropped) + gc.drained
	fl.Down += res.Down + gc.answered
	feeders.close()
	return res.End, res.Err
}

// gatedConn is the command's leg of a gated flow: what the relay reads
// from it is what the gate lets through; what it writes to it the gate
// sees; and its end carries the answer to a refused request.
type gatedConn struct {
	Conn
	g        *httpact.Gate
	outer    Conn
	tee      Tee
	timer    *time.Timer
	answered int64
	drained  int64 // the command's bytes dropped after a refusal
}

// After a refused request, the command's bytes are read and dropped for
// at most drainWait, up to maxDrain.
const (
	drainWait = 2 * time.Second
	maxDrain  = 16 << 20
)

func (c *gatedConn) Read(b []byte) (int, error) {
	n, err := c.g.Read(b)
	if err != nil {
		if refused, first := c.g.Refused(); refused {
			// The relay now ends the server's side. No response is on its
			// way before the first request: answer at once; else give the
			// server time to finish them and end its side.
			if first {
				closeRead(c.outer)
			} else {
				c.timer = time.AfterFunc(answerWait, func() { closeRead(c.outer) })
			}
		}
	}
	return n, err
}

func (c *gatedConn) Write(b []byte) (int, error) {
	c.g.Response(b)
	return c.Conn.Write(b)
}

// CloseWrite sends the answer to a refused request, if any, then FIN.
// After an answer it reads and drops what the command still sends (the
// refused request's body), bounded: closing a connection with unread
// bytes resets it, and the command might not get to read the answer.
func (c *gatedConn) CloseWrite() error {
	c.g.Done()
	a, _ := c.g.Answer()
	if a == nil {
		return c.Conn.CloseWrite()
	}
	if c.tee != nil {
		c.tee(Down, a)
	}
	n, err := c.Conn.Write(a)
	c.answered = int64(n)
	if err != nil {
		return err
	}
	err = c.Conn.CloseWrite()
	stop := time.AfterFunc(drainWait, func() { c.Conn.Close() })
	m, _ := io.CopyN(io.Discard, io.MultiReader(bytes.NewReader(c.g.Unread()), c.Conn), maxDrain)
	stop.Stop()
	c.drained = m
	return err
}

// Abort wakes the gate and resets the command's leg.
func (c *gatedConn) Abort() {
	c.g.Done()
	abort(c.Conn)
}

// closeRead ends the reading side of an upstream leg, so that the relay
// sees its end at once.
func closeRead(c Conn) {
	for {
		switch x := c.(type) {
		case *primed:
			c = x.Conn
			continue
		case interface{ CloseRead() error }:
			x.CloseRead()
		}
		return
	}
}
