package netstack

import (
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// TCPRequest is a connection the command is opening: its SYN has arrived and
// is held until the handler decides. Exactly one of Accept, Reset or Drop
// must be called.
type TCPRequest struct {
	// Src is the command's address, Dst where it is connecting to.
	Src, Dst netip.AddrPort

	st *Stack
	r  *tcp.ForwarderRequest
}

func newTCPRequest(st *Stack, r *tcp.ForwarderRequest) *TCPRequest {
	id := r.ID()
	return &TCPRequest{
		Src: toAddrPort(id.RemoteAddress, id.RemotePort),
		Dst: toAddrPort(id.LocalAddress, id.LocalPort),
		st:  st,
		r:   r,
	}
}

// Accept completes the handshake with the command and returns the
// connection. Call it after the upstream side is connected, so that the
// command sees what it would see without htapod.
func (r *TCPRequest) Accept() (*TCPConn, error) {
	r.st.syns.take(synKey{r.Src, r.Dst})
	var wq waiter.Queue
	ep, err := r.r.CreateEndpoint(&wq)
	r.r.Complete(false)
	if err != nil {
		return nil, mapErr(err)
	}
	// No Nagle on the command's leg: the relay writes what the server
	// sent as it comes (a TLS flight, a response head), and holding small
	// writes back for an ACK that the command delays costs tens of
	// milliseconds a handshake.
	ep.SocketOptions().SetDelayOption(false)
	return newTCPConn(ep, &wq, r.Dst, r.Src), nil
}

// Reset answers the SYN with a RST: the command sees ECONNREFUSED.
func (r *TCPRequest) Reset() {
	r.st.syns.take(synKey{r.Src, r.Dst})
	r.r.Complete(true)
}

// Drop forgets the SYN without an answer, as a silent host would: the
// command's connect times out on its own schedule.
func (r *TCPRequest) Drop() {
	r.st.syns.take(synKey{r.Src, r.Dst})
	r.r.Complete(false)
}

// Unreachable tells the command that the destination cannot be reached,
// with an ICMP error (network unreachable, or host unreachable when host):
// its connect fails at once with ENETUNREACH or EHOSTUNREACH, as it would
// without htapod. When the SYN's head is not at hand it answers with a RST.
func (r *TCPRequest) Unreachable(host bool) {
	head := r.st.syns.take(synKey{r.Src, r.Dst})
	if head == nil || r.st.writeRaw(unreachable(head, host)) != nil {
		r.r.Complete(true)
		return
	}
	r.r.Complete(false)
}
