package netstack

import (
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/nested"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// ackDelay is how long a pure ACK may wait for a segment that carries it.
// A request's response usually leaves within a fraction of it; the
// command's kernel waits far longer before it retransmits (200 ms at
// least).
const ackDelay = time.Millisecond

// ackEndpoint delays the pure ACKs that gVisor's TCP sends at once for
// every segment it takes in (it has no delayed ACK): a request's ACK then
// rides on its response, as with the command's own kernel, instead of
// costing a packet, a write to the TUN and a wakeup in the box each time.
// At most one pure ACK per connection waits, at most ackDelay: a second
// one goes out at once in its place (an ACK for every other segment, as
// RFC 9293 §3.8.6.3 asks), and any other segment of the connection
// replaces it, since it acknowledges as much. ACKs with SACK blocks (the
// stack saw a gap) go at once, so loss recovery is not slowed.
type ackEndpoint struct {
	nested.Endpoint

	mu     sync.Mutex
	held   map[ackKey]*heldAck
	closed bool
}

type ackKey struct {
	src, dst     tcpip.Address
	sport, dport uint16
}

type heldAck struct {
	pkt   *stack.PacketBuffer
	timer *time.Timer
}

// free forgets a held ACK that is not written.
func (h *heldAck) free() {
	h.timer.Stop()
	h.pkt.DecRef()
}

func newAckEndpoint(child stack.LinkEndpoint) *ackEndpoint {
	e := &ackEndpoint{held: make(map[ackKey]*heldAck)}
	e.Endpoint.Init(child, e)
	return e
}

// WritePackets holds a pure ACK, or writes the packets (a held ACK that
// one of them replaces is dropped).
func (e *ackEndpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	if pkts.Len() == 1 {
		pkt := pkts.AsSlice()[0]
		key, kind := classify(pkt)
		switch kind {
		case ackPure:
			if e.hold(key, pkt) {
				return 1, nil
			}
		case ackCarried:
			e.drop(key)
		}
		return e.Endpoint.WritePackets(pkts)
	}
	for _, pkt := range pkts.AsSlice() {
		if key, kind := classify(pkt); kind != ackNone {
			e.drop(key)
		}
	}
	return e.Endpoint.WritePackets(pkts)
}

// hold keeps pkt for ackDelay unless an ACK of its connection waits
// already: that one is dropped and hold returns false (write pkt now).
func (e *ackEndpoint) hold(key ackKey, pkt *stack.PacketBuffer) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	if h, ok := e.held[key]; ok {
		delete(e.held, key)
		h.free()
		return false
	}
	h := &heldAck{pkt: pkt.IncRef()}
	h.timer = time.AfterFunc(ackDelay, func() { e.release(key, h) })
	e.held[key] = h
	return true
}

// release writes h when it still waits.
func (e *ackEndpoint) release(key ackKey, h *heldAck) {
	e.mu.Lock()
	if e.held[key] != h {
		e.mu.Unlock()
		return
	}
	delete(e.held, key)
	e.mu.Unlock()
	var l stack.PacketBufferList
	l.PushBack(h.pkt)
	e.Endpoint.WritePackets(l)
	h.pkt.DecRef()
}

// drop forgets the ACK held for key, if any.
func (e *ackEndpoint) drop(key ackKey) {
	e.mu.Lock()
	h, ok := e.held[key]
	if ok {
		delete(e.held, key)
	}
	e.mu.Unlock()
	if ok {
		h.free()
	}
}

// Close drops what is held.
func (e *ackEndpoint) Close() {
	e.mu.Lock()
	e.closed = true
	held := e.held
	e.held = nil
	e.mu.Unlock()
	for _, h := range held {
		h.free()
	}
	e.Endpoint.Close()
}

type ackKind int

const (
	ackNone    ackKind = iota // not TCP
	ackPure                   // a pure ACK that may wait
	ackCarried                // any other TCP segment
)

// classify says what kind of segment pkt is, and of which connection.
func classify(pkt *stack.PacketBuffer) (ackKey, ackKind) {
	if pkt.TransportProtocolNumber != header.TCPProtocolNumber {
		return ackKey{}, ackNone
	}
	var key ackKey
	switch pkt.NetworkProtocolNumber {
	case header.IPv4ProtocolNumber:
		ip := header.IPv4(pkt.NetworkHeader().Slice())
		key.src, key.dst = ip.SourceAddress(), ip.DestinationAddress()
	case header.IPv6ProtocolNumber:
		ip := header.IPv6(pkt.NetworkHeader().Slice())
		key.src, key.dst = ip.SourceAddress(), ip.DestinationAddress()
	default:
		return ackKey{}, ackNone
	}
	th := pkt.TransportHeader().Slice()
	if len(th) < header.TCPMinimumSize {
		return ackKey{}, ackNone
	}
	tcp := header.TCP(th)
	key.sport, key.dport = tcp.SourcePort(), tcp.DestinationPort()
	if tcp.Flags() != header.TCPFlagAck || pkt.Data().Size() > 0 || hasSACK(tcp.Options()) {
		return key, ackCarried
	}
	return key, ackPure
}

// hasSACK says whether TCP options carry SACK blocks (RFC 2018).
func hasSACK(opts []byte) bool {
	for i := 0; i < len(opts); {
		switch opts[i] {
		case header.TCPOptionEOL:
			return false
		case header.TCPOptionNOP:
			i++
			continue
		case header.TCPOptionSACK:
			return true
		}
		if i+1 >= len(opts) || opts[i+1] < 2 {
			return false
		}
		i += int(opts[i+1])
	}
	return false
}
