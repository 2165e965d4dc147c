package netstack

import (
	"net/netip"
	"os"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// udpBuffer is the receive buffer of each flow's endpoint.
const udpBuffer = 4 << 20

// UDPRequest is a new UDP flow: the first datagram from Src to Dst has
// arrived and waits in Conn.
type UDPRequest struct {
	// Src is the command's address, Dst the destination of the datagram.
	Src, Dst netip.AddrPort
	// Conn reads the command's datagrams to Dst and writes datagrams that
	// the command receives from Dst. Its owner must close it; until then
	// every datagram of the 4-tuple goes to it.
	Conn *UDPConn
}

// UDPConn is the command's side of a UDP flow: a gonet.UDPConn that can
// also wait for a datagram without a buffer to read it into, so that an
// idle flow holds no buffer.
type UDPConn struct {
	*gonet.UDPConn
	ep tcpip.Endpoint
	wq *waiter.Queue
}

// WaitReadable blocks until Read would not block: a datagram waits, the
// conn is closed or has an error for Read to report. It returns
// os.ErrDeadlineExceeded if none of that happens by deadline (the zero
// time: no deadline). It reads nothing.
func (c *UDPConn) WaitReadable(deadline time.Time) error {
	const mask = waiter.ReadableEvents | waiter.EventHUp | waiter.EventErr
	if c.ep.Readiness(mask) != 0 {
		return nil
	}
	entry, notify := waiter.NewChannelEntry(mask)
	c.wq.EventRegister(&entry)
	defer c.wq.EventUnregister(&entry)
	if c.ep.Readiness(mask) != 0 { // arrived before the registration
		return nil
	}
	var expired <-chan time.Time
	if !deadline.IsZero() {
		wait := time.Until(deadline)
		if wait <= 0 {
			return os.ErrDeadlineExceeded
		}
		t := time.NewTimer(wait)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-notify:
		return nil
	case <-expired:
		return os.ErrDeadlineExceeded
	}
}

func newUDPRequest(st *Stack, r *udp.ForwarderRequest) (*UDPRequest, error) {
	id := r.ID()
	var wq waiter.Queue
	ep, err := r.CreateEndpoint(&wq)
	if err != nil {
		return nil, mapErr(err)
	}
	// Room for a burst: datagrams beyond the buffer are dropped while the
	// relay is busy sending the previous ones.
	ep.SocketOptions().SetReceiveBufferSize(udpBuffer, true)
	return &UDPRequest{
		Src:  toAddrPort(id.RemoteAddress, id.RemotePort),
		Dst:  toAddrPort(id.LocalAddress, id.LocalPort),
		Conn: &UDPConn{UDPConn: gonet.NewUDPConn(&wq, ep), ep: ep, wq: &wq},
	}, nil
}
