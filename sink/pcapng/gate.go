package pcapng

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/sink"
)

// Gate is the capture of a filtered run: a Writer that keeps whole flows.
// The packets of a flow are held until one of its events is selected by
// the run's filter (then they are written, and the flow's later packets go
// straight through) or the flow ends with none selected (then they are
// dropped). Packets that belong to no flow (ICMP, htapod's own DNS) are
// left out. A Gate is a sink.Gated: the run tells it every event and
// whether the filter selected it.
type Gate struct {
	w      *Writer
	write  func(fromBox bool, ts time.Time, pkt []byte)
	notify func(event.Event)

	mu     sync.Mutex
	flows  map[gateKey]*gateFlow
	byID   map[uint64]*gateFlow
	held   int // bytes held, all flows
	sweeps int
}

type gateKey struct {
	proto    uint8 // 6 TCP, 17 UDP
	src, dst netip.AddrPort
}

type gateFlow struct {
	keep, drop bool
	overflow   bool
	pkts       []heldPacket
	size       int
	ended      time.Time
}

type heldPacket struct {
	fromBox bool
	ts      time.Time
	b       []byte
}

// Bounds of what the gate holds while flows are undecided.
const (
	gateFlowMax  = 8 << 20
	gateTotalMax = 64 << 20
	gateLinger   = 10 * time.Second // decided flows' late packets (FIN, ACK)
)

var _ sink.Gated = (*Gate)(nil)

// NewGate returns a Gate that writes the packets of selected flows to w.
// notify receives a notice when a flow was selected after its first
// packets overflowed what a Gate holds; it may be nil.
func NewGate(w *Writer, notify func(event.Event)) *Gate {
	return newGate(w.Packet, notify, w)
}

func newGate(write func(bool, time.Time, []byte), notify func(event.Event), w *Writer) *Gate {
	if notify == nil {
		notify = func(event.Event) {}
	}
	return &Gate{w: w, write: write, notify: notify,
		flows: map[gateKey]*gateFlow{}, byID: map[uint64]*gateFlow{}}
}

// Handle does nothing: a Gate learns events from HandleSelected.
func (g *Gate) Handle(event.Event) {}

// Flush flushes the Writer.
func (g *Gate) Flush() error { return g.w.Flush() }

// Close closes the Writer.
func (g *Gate) Close() error { return g.w.Close() }

// FlushInterval implements sink.Paced.
func (g *Gate) FlushInterval() time.Duration { return g.w.FlushInterval() }

// Packet takes one captured packet (netstack.Capture).
func (g *Gate) Packet(fromBox bool, ts time.Time, pkt []byte) {
	k, ok := packetKey(fromBox, pkt)
	if !ok {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	fl := g.flow(k)
	switch {
	case fl.keep:
		g.write(fromBox, ts, pkt)
	case fl.drop, fl.overflow:
	case fl.size+len(pkt) > gateFlowMax || g.held+len(pkt) > gateTotalMax:
		fl.overflow = true
		g.held -= fl.size
		fl.pkts, fl.size = nil, 0
	default:
		fl.pkts = append(fl.pkts, heldPacket{fromBox, ts, pkt})
		fl.size += len(pkt)
		g.held += len(pkt)
	}
}

// HandleSelected takes one event: selected events decide their flow.
func (g *Gate) HandleSelected(e event.Event, selected bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch e := e.(type) {
	case *event.FlowOpen:
		g.byID[e.ID] = g.flow(flowKey(e.Proto, e.Src, e.Dst))
		if selected {
			g.keep(g.byID[e.ID], e.ID)
		}
	case *event.Flow:
		fl := g.byID[e.ID]
		if fl == nil {
			fl = g.flow(flowKey(e.Proto, e.Src, e.Dst))
		}
		delete(g.byID, e.ID)
		if selected {
			g.keep(fl, e.ID)
		}
		if !fl.keep {
			fl.drop = true
			g.held -= fl.size
			fl.pkts, fl.size = nil, 0
		}
		fl.ended = time.Now()
		g.sweep()
	default:
		id := e.Flow()
		if fl := g.byID[id]; fl != nil && !fl.keep && selected {
			g.keep(fl, id)
		}
	}
}

// keep decides fl for the capture and writes what it held.
func (g *Gate) keep(fl *gateFlow, id uint64) {
	if fl.keep {
		return
	}
	fl.keep = true
	for _, p := range fl.pkts {
		g.write(p.fromBox, p.ts, p.b)
	}
	g.held -= fl.size
	fl.pkts, fl.size = nil, 0
	if fl.overflow {
		go g.notify(&event.Notice{Time: time.Now(), Level: "warn", Message: fmt.Sprintf(
			"pcapng: flow %d matched the filter after more than %d MiB; its first packets are not in the capture", id, gateFlowMax>>20)})
	}
}

func (g *Gate) flow(k gateKey) *gateFlow {
	fl := g.flows[k]
	if fl == nil || (!fl.ended.IsZero() && time.Since(fl.ended) > gateLinger) {
		fl = &gateFlow{}
		g.flows[k] = fl
	}
	return fl
}

// sweep forgets flows that ended long enough ago, now and then.
func (g *Gate) sweep() {
	g.sweeps++
	if g.sweeps%256 != 0 {
		return
	}
	for k, fl := range g.flows {
		if !fl.ended.IsZero() && time.Since(fl.ended) > gateLinger {
			delete(g.flows, k)
		}
	}
}

func flowKey(proto event.Proto, src, dst netip.AddrPort) gateKey {
	p := uint8(6)
	if proto == event.UDP {
		p = 17
	}
	return gateKey{p, netip.AddrPortFrom(src.Addr().Unmap(), src.Port()), netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())}
}

// packetKey names the flow of a TCP or UDP packet, the command's end first.
func packetKey(fromBox bool, b []byte) (gateKey, bool) {
	var proto uint8
	var src, dst netip.Addr
	var l4 []byte
	switch {
	case len(b) >= 20 && b[0]>>4 == 4:
		hl := int(b[0]&0xf) * 4
		if len(b) < hl+4 {
			return gateKey{}, false
		}
		proto, l4 = b[9], b[hl:]
		src, dst = netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20]))
	case len(b) >= 44 && b[0]>>4 == 6:
		proto, l4 = b[6], b[40:]
		src, dst = netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40]))
	default:
		return gateKey{}, false
	}
	if proto != 6 && proto != 17 {
		return gateKey{}, false
	}
	sp := netip.AddrPortFrom(src, uint16(l4[0])<<8|uint16(l4[1]))
	dp := netip.AddrPortFrom(dst, uint16(l4[2])<<8|uint16(l4[3]))
	if !fromBox {
		sp, dp = dp, sp
	}
	return gateKey{proto, sp, dp}, true
}
