package netstack

import (
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/link/nested"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// Capture receives a copy of every IP packet that crosses the TUN: fromBox
// says the command sent it. pkt is the caller's to keep. Calls come from
// the stack's goroutines, concurrently; a slow Capture slows the stack.
type Capture func(fromBox bool, ts time.Time, pkt []byte)

// captureEndpoint is a link endpoint that shows each packet to a Capture
// (when set) on its way in and out, keeps the heads of SYNs for ICMP
// errors, and otherwise passes through.
type captureEndpoint struct {
	nested.Endpoint
	fn   Capture
	syns *synMemo
}

var (
	_ stack.LinkEndpoint      = (*captureEndpoint)(nil)
	_ stack.NetworkDispatcher = (*captureEndpoint)(nil)
)

func newCaptureEndpoint(child stack.LinkEndpoint, fn Capture, syns *synMemo) *captureEndpoint {
	e := &captureEndpoint{fn: fn, syns: syns}
	e.Endpoint.Init(child, e)
	return e
}

// DeliverNetworkPacket shows a packet from the command, then delivers it.
func (e *captureEndpoint) DeliverNetworkPacket(protocol tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
	if e.fn != nil {
		e.fn(true, time.Now(), packetBytes(pkt))
	}
	e.syns.observe(pkt)
	e.Endpoint.DeliverNetworkPacket(protocol, pkt)
}

// WritePackets shows packets to the command, then writes them.
func (e *captureEndpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	if e.fn == nil {
		return e.Endpoint.WritePackets(pkts)
	}
	now := time.Now()
	for _, pkt := range pkts.AsSlice() {
		e.fn(false, now, packetBytes(pkt))
	}
	return e.Endpoint.WritePackets(pkts)
}

func packetBytes(pkt *stack.PacketBuffer) []byte {
	buf := pkt.ToBuffer()
	defer buf.Release()
	return buf.Flatten()
}
