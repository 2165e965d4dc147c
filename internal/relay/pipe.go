// Package relay carries each flow between the command (the inner leg, from
// the netstack) and the real destination (the upstream leg, a host socket):
// it asks the router where a flow goes, dials upstream before the command's
// handshake completes, copies bytes unchanged both ways with half-close and
// resets mirrored, hands a read-only view of the bytes to a tee, and reports
// each finished flow as an event.Flow.
package relay

import (
	"errors"
	"io"
	"net"
	"sync"
	"syscall"

	"github.com/htapod/htapod/event"
)

// Conn is one leg of a TCP flow. *net.TCPConn and *netstack.TCPConn are Conns.
type Conn interface {
	io.ReadWriteCloser
	// CloseWrite sends FIN; reading goes on.
	CloseWrite() error
}

// Direction of bytes in a flow (an alias of event.Direction).
type Direction = event.Direction

// Directions.
const (
	Up   = event.Up
	Down = event.Down
)

// Tee sees the bytes of a flow as they pass. b is only valid during the
// call; the tee must copy what it keeps, and must return quickly: the relay
// waits for it. nil means no tee.
type Tee func(dir Direction, b []byte)

// Result is what Pipe observed.
type Result struct {
	Up, Down int64
	End      event.End
	// Err is the first error that ended the flow abnormally.
	Err error
}

// Copy buffers per direction: a flow starts with a small one, so that an
// idle connection costs little memory, and takes a large one (few read and
// write calls for a bulk transfer) once a read fills the small one.
const (
	smallBuf = 4 << 10
	bufSize  = 64 << 10
)

var (
	smallPool = sync.Pool{New: func() any { b := make([]byte, smallBuf); return &b }}
	bufPool   = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}
)

// Pipe relays between inner and outer until both directions have ended,
// then closes both. A FIN on one side becomes a FIN (CloseWrite) on the
// other; a reset or failure on either side resets both. Bytes are written
// unchanged; tee sees each chunk before it is written on.
func Pipe(inner, outer Conn, tee Tee) Result {
	var (
		res      Result
		once     sync.Once
		wg       sync.WaitGroup
		up, down int64
	)
	fail := func(err error) {
		once.Do(func() {
			res.Err = err
			abort(inner)
			abort(outer)
		})
	}
	wg.Add(2)
	go func() { defer wg.Done(); up = copyHalf(outer, inner, Up, tee, fail) }()
	go func() { defer wg.Done(); down = copyHalf(inner, outer, Down, tee, fail) }()
	wg.Wait()
	res.Up, res.Down = up, down
	res.End = event.Closed
	if res.Err != nil {
		res.End = event.Reset
		if !isReset(res.Err) {
			res.End = event.Failed
		}
	}
	inner.Close()
	outer.Close()
	return res
}

// copyHalf copies src to dst until src ends. On a clean EOF it half-closes
// dst; on any error it calls fail, which tears both legs down.
func copyHalf(dst, src Conn, dir Direction, tee Tee, fail func(error)) int64 {
	bp, pool := smallPool.Get().(*[]byte), &smallPool
	defer func() { pool.Put(bp) }()
	buf := *bp
	var n int64
	for {
		nr, rerr := src.Read(buf)
		if nr > 0 {
			if tee != nil {
				tee(dir, buf[:nr])
			}
			nw, werr := dst.Write(buf[:nr])
			n += int64(nw)
			if werr != nil {
				fail(werr)
				return n
			}
		}
		if rerr != nil {
			if rerr == io.EOF {
				// ENOTCONN: the other side is gone already (it closed or
				// reset); its own copy reports how.
				if err := dst.CloseWrite(); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, syscall.ENOTCONN) {
					fail(err)
				}
			} else {
				fail(rerr)
			}
			return n
		}
		if nr == len(buf) && pool == &smallPool {
			// Traffic is heavy: the large buffer from now on.
			smallPool.Put(bp)
			bp, pool = bufPool.Get().(*[]byte), &bufPool
			buf = *bp
		}
	}
}

// abort resets c: the peer sees a RST, not a FIN.
func abort(c Conn) {
	switch c := c.(type) {
	case interface{ Abort() }:
		c.Abort()
	case *net.TCPConn:
		c.SetLinger(0)
		c.Close()
	default:
		c.Close()
	}
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, net.ErrClosed)
}
