package relay

import (
	"crypto/tls"
	"errors"
	"io"
	"os"
	"time"
)

type readResult struct {
	b   []byte
	err error
}

// startRead starts one Read of c and delivers its result on the channel.
func startRead(c Conn) <-chan readResult {
	ch := make(chan readResult, 1)
	go func() {
		// Small: an idle connection holds it until its first bytes.
		b := make([]byte, 4<<10)
		n, err := c.Read(b)
		ch <- readResult{b[:n], err}
	}()
	return ch
}

// stopRead ends the Read under way on c (started by startRead) by setting
// a past deadline, and returns what it got. A leg without deadlines is
// waited for.
func stopRead(c Conn, ch <-chan readResult) readResult {
	d, ok := c.(interface{ SetReadDeadline(time.Time) error })
	if ok {
		d.SetReadDeadline(time.Unix(1, 0))
	}
	r := <-ch
	if ok {
		d.SetReadDeadline(time.Time{})
	}
	if errors.Is(r.err, os.ErrDeadlineExceeded) {
		r.err = nil
	}
	return r
}

// primed is a leg whose first reads return what was read from it before:
// bytes b, then err, and — when ch is set — the result of a Read that was
// under way. Later reads go to the leg itself.
type primed struct {
	Conn
	ch  <-chan readResult
	b   []byte
	err error
}

func (p *primed) Read(b []byte) (int, error) {
	if p.ch != nil {
		r := <-p.ch
		p.ch = nil
		p.b, p.err = append(p.b, r.b...), r.err
	}
	if len(p.b) > 0 {
		n := copy(b, p.b)
		p.b = p.b[n:]
		return n, nil
	}
	if p.err != nil {
		return 0, p.err
	}
	return p.Conn.Read(b)
}

// Abort resets the underlying leg.
func (p *primed) Abort() { abort(p.Conn) }

// tlsLeg is an intercepted TLS connection as a relay leg: CloseWrite
// sends close_notify, Abort resets the TCP connection beneath.
type tlsLeg struct {
	*tls.Conn
	raw Conn
}

func (t tlsLeg) Read(b []byte) (int, error) {
	n, err := t.Conn.Read(b)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		// The peer closed TCP without close_notify, as many servers do:
		// relay it as the end of the stream.
		err = io.EOF
	}
	return n, err
}

// CloseWrite sends close_notify and then FIN: no more data can follow a
// close_notify, and peers such as Java's HttpClient wait for the TCP end
// before they finish a close-delimited response.
func (t tlsLeg) CloseWrite() error {
	err := t.Conn.CloseWrite()
	return errors.Join(err, t.raw.CloseWrite())
}

// Abort resets the TCP connection beneath.
func (t tlsLeg) Abort() { abort(t.raw) }

// SetReadDeadline sets the read deadline of the leg beneath, when it has
// one: a TLS connection over a primed leg stops its reads through it.
func (p *primed) SetReadDeadline(t time.Time) error {
	if d, ok := p.Conn.(interface{ SetReadDeadline(time.Time) error }); ok {
		return d.SetReadDeadline(t)
	}
	return errors.ErrUnsupported
}
