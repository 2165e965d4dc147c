package pcapng

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/filter"
)

// tcpPacket is a minimal IPv4 TCP packet from src to dst (ports only).
func tcpPacket(src, dst netip.AddrPort) []byte {
	b := make([]byte, 40)
	b[0], b[9] = 0x45, 6
	copy(b[12:16], src.Addr().AsSlice())
	copy(b[16:20], dst.Addr().AsSlice())
	binary.BigEndian.PutUint16(b[20:], src.Port())
	binary.BigEndian.PutUint16(b[22:], dst.Port())
	return b
}

func TestPcapGate(t *testing.T) {
	box := netip.MustParseAddrPort("10.0.85.2:40000")
	box2 := netip.MustParseAddrPort("10.0.85.2:40001")
	www := netip.MustParseAddrPort("203.0.113.10:80")
	f, err := filter.Parse("~u index")
	if err != nil {
		t.Fatal(err)
	}
	var written []gateKey
	g := newGate(func(fromBox bool, _ time.Time, p []byte) {
		k, _ := packetKey(fromBox, p)
		written = append(written, k)
	}, nil, nil)
	handle := func(e event.Event) { g.HandleSelected(e, f.Match(e)) }
	now := time.Now()
	// Flow 1 matches at its request, after two packets were held.
	g.Packet(true, now, tcpPacket(box, www))
	g.Packet(false, now, tcpPacket(www, box))
	handle(&event.FlowOpen{ID: 1, Proto: event.TCP, Src: box, Dst: www})
	// Flow 2 never matches.
	g.Packet(true, now, tcpPacket(box2, www))
	handle(&event.FlowOpen{ID: 2, Proto: event.TCP, Src: box2, Dst: www})
	if len(written) != 0 {
		t.Fatalf("gate wrote %d packets before any match; want 0", len(written))
	}
	handle(&event.HTTP{FlowID: 1, Phase: event.PhaseRequest, Scheme: "http", Authority: "www", Path: "/index.html"})
	handle(&event.HTTP{FlowID: 2, Phase: event.PhaseRequest, Scheme: "http", Authority: "www", Path: "/other"})
	if len(written) != 2 {
		t.Fatalf("after flow 1 matched, gate wrote %d packets; want its 2 held ones", len(written))
	}
	g.Packet(true, now, tcpPacket(box, www))  // kept flow: straight through
	g.Packet(true, now, tcpPacket(box2, www)) // undecided: held
	handle(&event.Flow{ID: 2, Proto: event.TCP, Src: box2, Dst: www, End: event.Closed})
	g.Packet(false, now, tcpPacket(www, box2)) // ended, dropped: late packets too
	want := gateKey{6, box, www}
	if len(written) != 3 {
		t.Fatalf("gate wrote %d packets; want 3, all of flow 1", len(written))
	}
	for i, k := range written {
		if k != want {
			t.Errorf("written[%d] = %v; want flow 1 %v", i, k, want)
		}
	}
	if g.held != 0 {
		t.Errorf("gate still holds %d bytes after both flows were decided; want 0", g.held)
	}
}
