package netstack

import (
	"net/netip"

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
	Conn *gonet.UDPConn
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
		Conn: gonet.NewUDPConn(&wq, ep),
	}, nil
}
