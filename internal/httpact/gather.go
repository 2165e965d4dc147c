package httpact

import (
	"bufio"
	"bytes"
	"io"
)

// gather holds what is written to it until the bytes of the message being
// forwarded that are already in hand have all been added, and sends them
// in one write: a forwarded head and the body that came with it reach the
// peer as one segment, as they do through the byte relay, instead of one
// for the head and one per body read. Nothing waits for the network
// while bytes are held: before a read of the body that could wait (its
// source has no byte in hand, or, for a chunked body, no whole line), what
// is held is sent.
type gather struct {
	bw      *bufio.Writer
	src     *bufio.Reader // what the body is read from
	chunked bool
}

// gatherSize is the most a gather holds before it writes.
const gatherSize = 16 << 10

// reset points g at w for a message whose body is read from src.
func (g *gather) reset(w io.Writer, src *bufio.Reader, chunked bool) {
	if g.bw == nil {
		g.bw = bufio.NewWriterSize(w, gatherSize)
	} else {
		g.bw.Reset(w)
	}
	g.src, g.chunked = src, chunked
}

func (g *gather) Write(b []byte) (int, error) { return g.bw.Write(b) }

// ReadFrom reads r into what is held, sending it before a read that
// could wait (io.Copy to a gather takes no buffer of its own).
func (g *gather) ReadFrom(r io.Reader) (n int64, err error) {
	if gb, ok := r.(gatherBody); ok {
		r = gb.r // its check is made here
	}
	for {
		if g.bw.Available() == 0 || g.bw.Buffered() > 0 && g.mayWait() {
			if err := g.Flush(); err != nil {
				return n, err
			}
		}
		buf := g.bw.AvailableBuffer()
		m, err := r.Read(buf[:cap(buf)])
		g.bw.Write(buf[:m]) // in place: AvailableBuffer is the free part of the buffer
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// Flush sends what is held.
func (g *gather) Flush() error { return g.bw.Flush() }

// body wraps a message's body reader so that what is held is sent before
// a read that could wait.
func (g *gather) body(r io.Reader) io.Reader { return gatherBody{g, r} }

// mayWait says a read of the body could wait for the network.
func (g *gather) mayWait() bool {
	n := g.src.Buffered()
	if n == 0 {
		return true
	}
	if !g.chunked {
		return false
	}
	b, _ := g.src.Peek(n)
	return bytes.IndexByte(b, '\n') < 0
}

type gatherBody struct {
	g *gather
	r io.Reader
}

func (b gatherBody) Read(p []byte) (int, error) {
	if b.g.bw.Buffered() > 0 && b.g.mayWait() {
		if err := b.g.Flush(); err != nil {
			return 0, err
		}
	}
	return b.r.Read(p)
}
