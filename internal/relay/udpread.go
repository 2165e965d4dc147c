package relay

import (
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// datagramBuf is the size of the buffers that UDP datagrams are read
// into: room for the largest UDP payload over IPv4 or IPv6 (jumbograms
// aside), so that no datagram is ever cut.
const datagramBuf = 64 << 10

// datagramBufs holds the read buffers of all UDP flows. A flow takes one
// only while a datagram passes through it, so that an idle flow (most of
// them, most of the time) holds none.
var datagramBufs = sync.Pool{New: func() any { b := make([]byte, datagramBuf); return &b }}

// readWaiter is a datagram conn that can wait for a datagram without
// reading it (netstack.UDPConn).
type readWaiter interface {
	net.Conn
	WaitReadable(deadline time.Time) error
}

// datagramReader returns the next datagram on a conn: in a pooled buffer
// that the caller gives back with datagramBufs.Put, or an error (the
// deadline's os.ErrDeadlineExceeded, the host socket's ECONNREFUSED, the
// conn's close).
type datagramReader func(deadline time.Time) (buf *[]byte, n int, err error)

// newDatagramReader reads c so that its buffer is taken only once a
// datagram is there: a host socket (a syscall.Conn) is read without
// blocking when the poller says it is readable, a netstack conn after
// WaitReadable. Any other conn blocks in Read holding a buffer.
func newDatagramReader(c net.Conn) datagramReader {
	if w, ok := c.(readWaiter); ok {
		return func(deadline time.Time) (*[]byte, int, error) {
			w.SetReadDeadline(deadline)
			if err := w.WaitReadable(deadline); err != nil {
				return nil, 0, err
			}
			return readPooled(w)
		}
	}
	if sc, ok := c.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			return func(deadline time.Time) (*[]byte, int, error) {
				c.SetReadDeadline(deadline)
				return recvPooled(rc)
			}
		}
	}
	return func(deadline time.Time) (*[]byte, int, error) {
		c.SetReadDeadline(deadline)
		return readPooled(c)
	}
}

func readPooled(c net.Conn) (*[]byte, int, error) {
	b := datagramBufs.Get().(*[]byte)
	n, err := c.Read(*b)
	if err != nil {
		datagramBufs.Put(b)
		return nil, 0, err
	}
	return b, n, nil
}

// recvPooled reads one datagram from a non-blocking socket, waiting in the
// runtime's poller (which honours the conn's read deadline) while there is
// none, with no buffer taken.
func recvPooled(rc syscall.RawConn) (*[]byte, int, error) {
	var (
		b    *[]byte
		n    int
		rerr error
	)
	err := rc.Read(func(fd uintptr) bool {
		b = datagramBufs.Get().(*[]byte)
		for {
			n, rerr = syscall.Read(int(fd), *b)
			if rerr != syscall.EINTR {
				break
			}
		}
		if rerr == syscall.EAGAIN {
			datagramBufs.Put(b)
			b = nil
			return false
		}
		return true
	})
	if err == nil && rerr != nil {
		err = os.NewSyscallError("read", rerr)
	}
	if err != nil {
		if b != nil {
			datagramBufs.Put(b)
		}
		return nil, 0, err
	}
	return b, n, nil
}
