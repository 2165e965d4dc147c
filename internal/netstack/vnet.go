package netstack

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/rawfile"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// vnetHdrLen is the size of struct virtio_net_hdr, which a TUN opened with
// IFF_VNET_HDR puts before every packet in both directions.
const vnetHdrLen = 10

// Fields of struct virtio_net_hdr (linux/virtio_net.h).
const (
	vnetNeedsCsum = 1 // flags: the checksum at csum_start+csum_offset is partial
	vnetGSOTCPv4  = 1
	vnetGSOTCPv6  = 4
)

// smallPacket is the size under which a packet read from the TUN is copied
// out of the 64 KiB read buffer, which is then read into again: a small
// packet (an ACK, a DNS query) must not pin 64 KiB while it is queued.
const smallPacket = 2048

// maxHeaders bounds the IP and transport headers of a packet: IPv4's 60
// bytes and TCP's 60 (IPv6's 40 and TCP's 60).
const maxHeaders = 120

// vnetEndpoint is a link endpoint for a TUN opened with IFF_VNET_HDR and
// TUNSETOFFLOAD(TUN_F_CSUM): the kernel hands over packets whose TCP and
// UDP checksums are left for the receiver (which gVisor, with RX checksum
// offload, never verifies), and takes TCP segments whose checksum gVisor
// left partial (host GSO), which it marks CHECKSUM_PARTIAL and delivers
// to the box's sockets without computing. So no checksum of the relayed
// bytes is computed on the inner leg at all, where without the header
// every segment's was computed by the sender and again by the receiver.
//
// With checksums (Capture set), partial checksums are completed in
// software both ways, so that a capture shows valid packets.
//
// Packets are read through Go's poller (a non-blocking dup of the fd in an
// os.File), not by a thread blocked in ppoll+readv as gVisor's fdbased
// does: a blocked thread holds its P until sysmon takes it back, and every
// packet then costs a thread hand-off; through the poller the reader is a
// goroutine like the relay's, woken on the same thread when it can be.
type vnetEndpoint struct {
	fd      int
	mtu     uint32
	fixCsum bool
	file    *os.File // a dup of fd, registered with Go's poller

	mu         sync.RWMutex
	dispatcher stack.NetworkDispatcher
	wg         sync.WaitGroup
}

var (
	_ stack.LinkEndpoint = (*vnetEndpoint)(nil)
	_ stack.GSOEndpoint  = (*vnetEndpoint)(nil)
)

// newVnetEndpoint returns an endpoint on fd, which it makes non-blocking.
func newVnetEndpoint(fd int, mtu uint32, fixCsum bool) (*vnetEndpoint, error) {
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, fmt.Errorf("set tun non-blocking: %w", err)
	}
	// The dup shares the open file (and its O_NONBLOCK): os.NewFile sees a
	// non-blocking fd and registers it with the poller; closing the file
	// stops the reader without closing the caller's fd.
	d, err := unix.Dup(fd)
	if err != nil {
		return nil, fmt.Errorf("dup tun: %w", err)
	}
	return &vnetEndpoint{fd: fd, mtu: mtu, fixCsum: fixCsum, file: os.NewFile(uintptr(d), "tun")}, nil
}

// MTU implements stack.LinkEndpoint.
func (e *vnetEndpoint) MTU() uint32 { return e.mtu }

// SetMTU implements stack.LinkEndpoint; the TUN's MTU is fixed.
func (e *vnetEndpoint) SetMTU(uint32) {}

// MaxHeaderLength implements stack.LinkEndpoint: IP packets, no link header.
func (e *vnetEndpoint) MaxHeaderLength() uint16 { return 0 }

// LinkAddress implements stack.LinkEndpoint: a TUN has none.
func (e *vnetEndpoint) LinkAddress() tcpip.LinkAddress { return "" }

// SetLinkAddress implements stack.LinkEndpoint.
func (e *vnetEndpoint) SetLinkAddress(tcpip.LinkAddress) {}

// Capabilities implements stack.LinkEndpoint.
func (e *vnetEndpoint) Capabilities() stack.LinkEndpointCapabilities {
	return stack.CapabilityRXChecksumOffload
}

// GSOMaxSize implements stack.GSOEndpoint: what one write may carry. The
// MTU: segments are already as large as the TUN's MTU (65520), and the
// reader on the other end (a test's, or a capture's reader) expects no
// more; host GSO is used for its partial checksums, not for size.
func (e *vnetEndpoint) GSOMaxSize() uint32 {
	if e.fixCsum {
		return 0
	}
	return e.mtu
}

// SupportedGSO implements stack.GSOEndpoint. Host GSO makes gVisor's TCP
// leave the checksum partial and say where it is; with fixCsum it
// computes it.
func (e *vnetEndpoint) SupportedGSO() stack.SupportedGSO {
	if e.fixCsum {
		return stack.GSONotSupported
	}
	return stack.HostGSOSupported
}

// ARPHardwareType implements stack.LinkEndpoint.
func (e *vnetEndpoint) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareNone }

// AddHeader implements stack.LinkEndpoint: there is no link header.
func (e *vnetEndpoint) AddHeader(*stack.PacketBuffer) {}

// ParseHeader implements stack.LinkEndpoint.
func (e *vnetEndpoint) ParseHeader(*stack.PacketBuffer) bool { return true }

// Close implements stack.LinkEndpoint: it stops the reader, as Attach(nil)
// does.
func (e *vnetEndpoint) Close() { e.file.Close() }

// stop stops the reader and waits until it has returned: closing the file
// ends its read, and a packet it is delivering is delivered first. The
// caller must hold none of the stack's locks.
func (e *vnetEndpoint) stop() {
	e.file.Close()
	e.wg.Wait()
}

// SetOnCloseAction implements stack.LinkEndpoint.
func (e *vnetEndpoint) SetOnCloseAction(func()) {}

// IsAttached implements stack.LinkEndpoint.
func (e *vnetEndpoint) IsAttached() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.dispatcher != nil
}

// Wait implements stack.LinkEndpoint: it waits for the reader to stop.
func (e *vnetEndpoint) Wait() { e.wg.Wait() }

// Attach implements stack.LinkEndpoint: it starts the reader, or with nil
// stops it and waits for it.
func (e *vnetEndpoint) Attach(d stack.NetworkDispatcher) {
	e.mu.Lock()
	if d == nil {
		if e.dispatcher != nil {
			e.dispatcher = nil
			e.mu.Unlock()
			e.stop()
			return
		}
		e.mu.Unlock()
		return
	}
	defer e.mu.Unlock()
	if e.dispatcher == nil {
		e.dispatcher = d
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.readLoop(d)
		}()
	}
}

// readLoop reads packets until the endpoint is stopped or the TUN fails.
func (e *vnetEndpoint) readLoop(d stack.NetworkDispatcher) {
	size := vnetHdrLen + int(e.mtu)
	var v *buffer.View
	defer func() {
		if v != nil {
			v.Release()
		}
	}()
	for {
		if v == nil {
			v = buffer.NewViewSize(size)
		}
		b := v.AsSlice()
		n, err := e.file.Read(b)
		if err != nil {
			return // stopped (the file closed), or the TUN is gone
		}
		if n <= vnetHdrLen {
			continue
		}
		hdr := b[:vnetHdrLen]
		pkt := b[vnetHdrLen:n]
		if e.fixCsum && hdr[0]&vnetNeedsCsum != 0 {
			completeChecksum(pkt, int(binary.LittleEndian.Uint16(hdr[6:])), int(binary.LittleEndian.Uint16(hdr[8:])))
		}
		var payload buffer.Buffer
		if len(pkt) < smallPacket {
			payload = buffer.MakeWithData(pkt)
		} else {
			// The headers go in a small view of their own, the rest stays
			// in the read buffer: gVisor's IPv4 input takes a second
			// reference to the header's view and then pulls the header up
			// again, which copies the whole view when it is shared — 64
			// KiB per segment for a few dozen bytes of header.
			head := min(len(pkt), maxHeaders)
			payload = buffer.MakeWithData(pkt[:head])
			rest := v
			v = nil
			rest.CapLength(n)
			rest.TrimFront(vnetHdrLen + head)
			payload.Append(rest)
		}
		e.deliver(d, header.IPVersion(pkt), payload)
	}
}

// deliver hands one IP packet to the stack.
func (e *vnetEndpoint) deliver(d stack.NetworkDispatcher, version int, b buffer.Buffer) {
	var proto tcpip.NetworkProtocolNumber
	switch version {
	case header.IPv4Version:
		proto = header.IPv4ProtocolNumber
	case header.IPv6Version:
		proto = header.IPv6ProtocolNumber
	default:
		b.Release()
		return
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: b})
	d.DeliverNetworkPacket(proto, pkt)
	pkt.DecRef()
}

// completeChecksum writes the full checksum of what follows start into the
// field at start+off, which holds the partial sum (the pseudo-header's, not
// inverted) as CHECKSUM_PARTIAL leaves it.
func completeChecksum(pkt []byte, start, off int) {
	if start+off+2 > len(pkt) {
		return
	}
	sum := checksum.Checksum(pkt[start:], 0)
	binary.BigEndian.PutUint16(pkt[start+off:], ^sum)
}

// writeRaw writes one whole IP packet of htapod's own (an ICMP error, its
// checksums complete) beside the stack's writes, after an empty header.
func (e *vnetEndpoint) writeRaw(pkt []byte) error {
	var hdr [vnetHdrLen]byte
	_, err := unix.Writev(e.fd, [][]byte{hdr[:], pkt})
	return err
}

// WritePackets implements stack.LinkWriter: each packet in one writev,
// after its virtio_net_hdr.
func (e *vnetEndpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	n := 0
	for _, pkt := range pkts.AsSlice() {
		if err := e.write(pkt); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func (e *vnetEndpoint) write(pkt *stack.PacketBuffer) tcpip.Error {
	var hdr [vnetHdrLen]byte
	if g := pkt.GSOOptions; g.Type != stack.GSONone && g.NeedsCsum {
		hdr[0] = vnetNeedsCsum
		binary.LittleEndian.PutUint16(hdr[2:], uint16(pkt.HeaderSize()))
		binary.LittleEndian.PutUint16(hdr[6:], uint16(g.L3HdrLen))
		binary.LittleEndian.PutUint16(hdr[8:], g.CsumOffset)
		if pkt.Data().Size() > int(g.MSS) {
			switch g.Type {
			case stack.GSOTCPv4:
				hdr[1] = vnetGSOTCPv4
			case stack.GSOTCPv6:
				hdr[1] = vnetGSOTCPv6
			}
			binary.LittleEndian.PutUint16(hdr[4:], g.MSS)
		}
	}
	views := pkt.AsSlices()
	var arr [8]unix.Iovec
	iovecs := arr[:0]
	max := min(len(views)+1, rawfile.MaxIovs)
	iovecs = rawfile.AppendIovecFromBytes(iovecs, hdr[:], max)
	for _, v := range views {
		iovecs = rawfile.AppendIovecFromBytes(iovecs, v, max)
	}
	if errno := rawfile.NonBlockingWriteIovec(e.fd, iovecs); errno != 0 {
		return tcpip.TranslateErrno(errno)
	}
	return nil
}
