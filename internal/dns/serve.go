package dns

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/htapod/htapod/event"
)

// maxQuery bounds a query read over UDP; longer ones are cut, fail to
// parse and get FORMERR.
const maxQuery = 8 << 10

// queryBufs are the buffers UDP queries are read into, taken only while a
// query is read.
var queryBufs = sync.Pool{New: func() any { b := make([]byte, maxQuery); return &b }}

// readWaiter is a datagram conn that can wait for a datagram without
// reading it (netstack.UDPConn).
type readWaiter interface {
	WaitReadable(deadline time.Time) error
}

// idle is how long a client connection or UDP flow to the resolver may stay
// silent before the resolver closes it.
const idle = 10 * time.Second

// ServeUDP answers the datagrams of one UDP flow (one client port) until it
// has been idle, ctx is done or c fails. It closes c.
func (r *Resolver) ServeUDP(ctx context.Context, c net.Conn) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	server := addrPort(c.LocalAddr())
	proc := r.process(event.UDP, c, server)
	var wg sync.WaitGroup
	defer wg.Wait()
	w, _ := c.(readWaiter)
	for {
		deadline := time.Now().Add(idle)
		c.SetReadDeadline(deadline)
		if w != nil {
			// A flow is kept for idle after its query, and a program may
			// open a flow per query: it waits with no buffer of its own.
			if err := w.WaitReadable(deadline); err != nil {
				return
			}
		}
		bp := queryBufs.Get().(*[]byte)
		n, err := c.Read(*bp)
		if err != nil {
			queryBufs.Put(bp)
			return
		}
		q := append([]byte(nil), (*bp)[:n]...)
		queryBufs.Put(bp)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out := r.answer(ctx, q, event.UDP, server, proc); out != nil {
				c.Write(out)
			}
		}()
	}
}

// ServeTCP answers length-prefixed queries (RFC 1035 §4.2.2) on one
// connection, in order, until the client closes it, it idles, or ctx is
// done. It closes c.
func (r *Resolver) ServeTCP(ctx context.Context, c net.Conn) {
	defer c.Close()
	// The netstack conn has no deadlines: a timer closes it instead.
	t := time.AfterFunc(idle, func() { c.Close() })
	defer t.Stop()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	server := addrPort(c.LocalAddr())
	proc := r.process(event.TCP, c, server)
	var lenBuf [2]byte
	for {
		if _, err := io.ReadFull(c, lenBuf[:]); err != nil {
			return
		}
		q := make([]byte, binary.BigEndian.Uint16(lenBuf[:]))
		if _, err := io.ReadFull(c, q); err != nil {
			return
		}
		t.Reset(idle)
		out := r.answer(ctx, q, event.TCP, server, proc)
		if out == nil {
			return
		}
		msg := make([]byte, 2+len(out))
		binary.BigEndian.PutUint16(msg, uint16(len(out)))
		copy(msg[2:], out)
		if _, err := c.Write(msg); err != nil {
			return
		}
	}
}

// process finds the process behind a client's flow, when asked to: at
// the flow's first datagram or connection, while the client waits.
func (r *Resolver) process(proto event.Proto, c net.Conn, server netip.AddrPort) *event.Process {
	if r.cfg.Process == nil {
		return nil
	}
	return r.cfg.Process(proto, addrPort(c.RemoteAddr()), server)
}

func addrPort(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort()
	case *net.TCPAddr:
		return a.AddrPort()
	}
	return netip.AddrPort{}
}
