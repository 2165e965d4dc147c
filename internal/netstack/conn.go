package netstack

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// TCPConn is the inner leg of a TCP flow: the command's connection as seen
// from htapod's netstack. Unlike gonet.TCPConn it keeps the meaning of
// errors (a reset reads as syscall.ECONNRESET, so the relay can mirror it)
// and can Abort, which sends a RST.
//
// Read and Write may be called concurrently with each other; neither may be
// called concurrently with itself.
type TCPConn struct {
	ep         tcpip.Endpoint
	wq         *waiter.Queue
	local, rem netip.AddrPort

	closeOnce sync.Once
	bulk      bulkState
	readEnd   atomic.Pointer[func()] // OnReadEnd's, until called
}

var _ net.Conn = (*TCPConn)(nil)

func newTCPConn(ep tcpip.Endpoint, wq *waiter.Queue, local, remote netip.AddrPort) *TCPConn {
	return &TCPConn{ep: ep, wq: wq, local: local, rem: remote}
}

// Read reads plaintext the command sent. It returns io.EOF after the command
// shut down its write side.
func (c *TCPConn) Read(b []byte) (int, error) {
	w := tcpip.SliceWriter(b)
	res, err := c.ep.Read(&w, tcpip.ReadOptions{})
	if _, ok := err.(*tcpip.ErrWouldBlock); ok {
		entry, ch := waiter.NewChannelEntry(waiter.ReadableEvents | waiter.EventHUp | waiter.EventErr)
		c.wq.EventRegister(&entry)
		for {
			res, err = c.ep.Read(&w, tcpip.ReadOptions{})
			if _, ok := err.(*tcpip.ErrWouldBlock); !ok {
				break
			}
			<-ch
		}
		c.wq.EventUnregister(&entry)
	}
	if err != nil {
		if fn := c.readEnd.Swap(nil); fn != nil {
			(*fn)()
		}
		return 0, mapErr(err)
	}
	c.ep.ModerateRecvBuf(res.Count)
	return res.Count, nil
}

// OnReadEnd has fn called, once, when a Read first ends with an error:
// the command closed (or reset) its side, or the conn was closed.
func (c *TCPConn) OnReadEnd(fn func()) { c.readEnd.Store(&fn) }

// Write writes all of b towards the command, waiting for window space.
func (c *TCPConn) Write(b []byte) (int, error) {
	var (
		r     bytes.Reader
		done  int
		entry waiter.Entry
		ch    <-chan struct{}
	)
	c.bulkBefore(len(b))
	for done < len(b) {
		r.Reset(b[done:])
		n, err := c.ep.Write(&r, tcpip.WriteOptions{})
		done += int(n)
		switch err.(type) {
		case nil:
		case *tcpip.ErrWouldBlock:
			if ch == nil {
				entry, ch = waiter.NewChannelEntry(waiter.WritableEvents | waiter.EventHUp | waiter.EventErr)
				c.wq.EventRegister(&entry)
				defer c.wq.EventUnregister(&entry)
				continue // re-check before sleeping: space may have opened meanwhile
			}
			<-ch
		default:
			return done, mapErr(err)
		}
	}
	return done, nil
}

// CloseWrite sends FIN: the command reads EOF, and may still send.
func (c *TCPConn) CloseWrite() error {
	c.bulkStop()
	if err := c.ep.Shutdown(tcpip.ShutdownWrite); err != nil {
		return mapErr(err)
	}
	return nil
}

// Abort resets the connection: the command sees ECONNRESET.
func (c *TCPConn) Abort() {
	c.closeOnce.Do(func() { c.bulkStop(); c.ep.Abort() })
}

// Close closes the connection gracefully.
func (c *TCPConn) Close() error {
	c.closeOnce.Do(func() { c.bulkStop(); c.ep.Close() })
	return nil
}

// Segments returns how many TCP segments of this connection the netstack
// received from the command (in) and sent to it (out), handshake, pure
// ACKs and retransmissions included. It may be called after Close.
func (c *TCPConn) Segments() (in, out uint64) {
	st, ok := c.ep.Stats().(*tcp.Stats)
	if !ok {
		return 0, 0
	}
	return st.SegmentsReceived.Value(), st.SegmentsSent.Value()
}

// LocalAddr is the destination the command connected to.
func (c *TCPConn) LocalAddr() net.Addr { return net.TCPAddrFromAddrPort(c.local) }

// RemoteAddr is the command's own address.
func (c *TCPConn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.rem) }

// SetDeadline is not supported; the relay ends flows by closing them.
func (c *TCPConn) SetDeadline(time.Time) error { return errNoDeadline }

// SetReadDeadline is not supported.
func (c *TCPConn) SetReadDeadline(time.Time) error { return errNoDeadline }

// SetWriteDeadline is not supported.
func (c *TCPConn) SetWriteDeadline(time.Time) error { return errNoDeadline }

var errNoDeadline = &net.OpError{Op: "set deadline", Net: "tcp", Err: syscall.ENOTSUP}

// check returns the error of the gVisor call op (nil when err is nil),
// wrapped as mapErr converts it: for calls that configure the stack, whose
// failure is htapod's and must stop it.
func check(op string, err tcpip.Error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", op, mapErr(err))
}

// mapErr converts a gVisor error into the syscall error a kernel socket would
// return, so that callers can test errors with errors.Is as for net.TCPConn.
// It and check are the one place where tcpip.Error becomes error.
func mapErr(err tcpip.Error) error {
	switch err.(type) {
	case nil:
		return nil
	case *tcpip.ErrClosedForReceive:
		return io.EOF
	case *tcpip.ErrConnectionReset:
		return syscall.ECONNRESET
	case *tcpip.ErrConnectionAborted:
		return syscall.ECONNABORTED
	case *tcpip.ErrClosedForSend:
		return syscall.EPIPE
	case *tcpip.ErrTimeout:
		return syscall.ETIMEDOUT
	case *tcpip.ErrConnectionRefused:
		return syscall.ECONNREFUSED
	case *tcpip.ErrNotConnected, *tcpip.ErrInvalidEndpointState:
		return syscall.ENOTCONN
	case *tcpip.ErrNetworkUnreachable:
		return syscall.ENETUNREACH
	case *tcpip.ErrHostUnreachable:
		return syscall.EHOSTUNREACH
	}
	return &tcpipError{err}
}

type tcpipError struct{ e tcpip.Error }

func (e *tcpipError) Error() string { return "netstack: " + e.e.String() }
