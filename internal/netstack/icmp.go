package netstack

import (
	"net/netip"
	"sync"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// An ICMP "destination unreachable" must quote the packet it answers: the
// kernel matches it to the connecting socket by the quoted addresses,
// ports and sequence number, and fails connect() with EHOSTUNREACH or
// ENETUNREACH at once. gVisor's forwarder keeps the SYN to itself, so the
// link endpoint keeps a copy of each SYN's first bytes until the flow is
// decided.

// synKey names a connection attempt.
type synKey struct {
	src, dst netip.AddrPort
}

// synMemo holds the heads of SYNs still waiting for a decision. It is
// bounded: when full it starts afresh (a lost head means a RST instead of
// an ICMP error, nothing worse).
type synMemo struct {
	mu    sync.Mutex
	heads map[synKey][]byte
}

const maxSYNHeads = 4096

// quoteLen is how much of the SYN an ICMP error quotes: the IP header and
// the whole TCP header (at least the 8 bytes RFC 792 asks for, and the
// sequence number the kernel checks).
const quoteLen = 20

func (m *synMemo) observe(pkt *stack.PacketBuffer) {
	b, ok := pkt.Data().PullUp(min(pkt.Data().Size(), 60+quoteLen))
	if !ok || len(b) < 1 {
		return
	}
	var hlen int
	var src, dst netip.Addr
	switch b[0] >> 4 {
	case 4:
		hlen = int(b[0]&0xf) * 4
		if len(b) < hlen+quoteLen || b[9] != uint8(header.TCPProtocolNumber) {
			return
		}
		src, dst = netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20]))
	case 6:
		hlen = header.IPv6MinimumSize
		if len(b) < hlen+quoteLen || b[6] != uint8(header.TCPProtocolNumber) {
			return
		}
		src, dst = netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40]))
	default:
		return
	}
	tcp := header.TCP(b[hlen:])
	if tcp.Flags() != header.TCPFlagSyn {
		return
	}
	k := synKey{netip.AddrPortFrom(src, tcp.SourcePort()), netip.AddrPortFrom(dst, tcp.DestinationPort())}
	head := append([]byte(nil), b[:hlen+quoteLen]...)
	m.mu.Lock()
	if m.heads == nil || len(m.heads) >= maxSYNHeads {
		m.heads = map[synKey][]byte{}
	}
	m.heads[k] = head
	m.mu.Unlock()
}

func (m *synMemo) take(k synKey) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.heads[k]
	delete(m.heads, k)
	return h
}

// unreachable builds the ICMP error answering the quoted SYN: "network
// unreachable" or, with host, "host (address) unreachable". It comes from
// the address the command was connecting to, as a router's would come
// from the router.
func unreachable(quoted []byte, host bool) []byte {
	if quoted[0]>>4 == 4 {
		src := tcpip.AddrFrom4([4]byte(quoted[16:20]))
		dst := tcpip.AddrFrom4([4]byte(quoted[12:16]))
		pkt := make([]byte, header.IPv4MinimumSize+header.ICMPv4MinimumSize+len(quoted))
		ip := header.IPv4(pkt)
		ip.Encode(&header.IPv4Fields{
			TotalLength: uint16(len(pkt)), TTL: 64, Protocol: uint8(header.ICMPv4ProtocolNumber),
			SrcAddr: src, DstAddr: dst,
		})
		ip.SetChecksum(^ip.CalculateChecksum())
		icmp := header.ICMPv4(pkt[header.IPv4MinimumSize:])
		icmp.SetType(header.ICMPv4DstUnreachable)
		icmp.SetCode(header.ICMPv4NetUnreachable)
		if host {
			icmp.SetCode(header.ICMPv4HostUnreachable)
		}
		copy(icmp[header.ICMPv4MinimumSize:], quoted)
		icmp.SetChecksum(^checksum.Checksum(icmp, 0))
		return pkt
	}
	src := tcpip.AddrFrom16([16]byte(quoted[24:40]))
	dst := tcpip.AddrFrom16([16]byte(quoted[8:24]))
	pkt := make([]byte, header.IPv6MinimumSize+header.ICMPv6DstUnreachableMinimumSize+len(quoted))
	ip := header.IPv6(pkt)
	ip.Encode(&header.IPv6Fields{
		PayloadLength: uint16(len(pkt) - header.IPv6MinimumSize), TransportProtocol: header.ICMPv6ProtocolNumber,
		HopLimit: 64, SrcAddr: src, DstAddr: dst,
	})
	icmp := header.ICMPv6(pkt[header.IPv6MinimumSize:])
	icmp.SetType(header.ICMPv6DstUnreachable)
	icmp.SetCode(header.ICMPv6NetworkUnreachable)
	if host {
		icmp.SetCode(header.ICMPv6AddressUnreachable)
	}
	copy(icmp[header.ICMPv6DstUnreachableMinimumSize:], quoted)
	icmp.SetChecksum(header.ICMPv6Checksum(header.ICMPv6ChecksumParams{
		Header: icmp[:header.ICMPv6DstUnreachableMinimumSize], Src: src, Dst: dst,
		PayloadCsum: checksum.Checksum(quoted, 0), PayloadLen: len(quoted),
	}))
	return pkt
}

// writeRaw writes one IP packet to the TUN beside the stack's own writes
// (each write is one packet, so they do not interleave), framed as the
// link endpoint frames its own.
func (st *Stack) writeRaw(pkt []byte) error {
	if st.vnet != nil {
		return st.vnet.writeRaw(pkt)
	}
	_, err := unix.Write(st.fd, pkt)
	return err
}

// portUnreachable builds the ICMP "port unreachable" that answers a UDP
// datagram from src to dst, as a host's or a firewall's reject does: a
// connected socket's next call fails with ECONNREFUSED. The quote is made
// from the 4-tuple (an IP header and the UDP header's ports): the kernel
// finds the socket by those alone (__udp4_lib_err, __udp6_lib_err).
func portUnreachable(src, dst netip.AddrPort) []byte {
	const udpHdr = 8
	if dst.Addr().Is4() {
		quoted := make([]byte, header.IPv4MinimumSize+udpHdr)
		qip := header.IPv4(quoted)
		qip.Encode(&header.IPv4Fields{
			TotalLength: uint16(len(quoted)), TTL: 64, Protocol: uint8(header.UDPProtocolNumber),
			SrcAddr: tcpip.AddrFrom4(src.Addr().As4()), DstAddr: tcpip.AddrFrom4(dst.Addr().As4()),
		})
		qip.SetChecksum(^qip.CalculateChecksum())
		header.UDP(quoted[header.IPv4MinimumSize:]).Encode(&header.UDPFields{SrcPort: src.Port(), DstPort: dst.Port(), Length: udpHdr})
		pkt := unreachable(quoted, true)
		icmp := header.ICMPv4(pkt[header.IPv4MinimumSize:])
		icmp.SetCode(header.ICMPv4PortUnreachable)
		icmp.SetChecksum(0)
		icmp.SetChecksum(^checksum.Checksum(icmp, 0))
		return pkt
	}
	quoted := make([]byte, header.IPv6MinimumSize+udpHdr)
	header.IPv6(quoted).Encode(&header.IPv6Fields{
		PayloadLength: udpHdr, TransportProtocol: header.UDPProtocolNumber, HopLimit: 64,
		SrcAddr: tcpip.AddrFrom16(src.Addr().As16()), DstAddr: tcpip.AddrFrom16(dst.Addr().As16()),
	})
	header.UDP(quoted[header.IPv6MinimumSize:]).Encode(&header.UDPFields{SrcPort: src.Port(), DstPort: dst.Port(), Length: udpHdr})
	pkt := unreachable(quoted, true)
	icmp := header.ICMPv6(pkt[header.IPv6MinimumSize:])
	icmp.SetCode(header.ICMPv6PortUnreachable)
	icmp.SetChecksum(0)
	icmp.SetChecksum(header.ICMPv6Checksum(header.ICMPv6ChecksumParams{
		Header: icmp[:header.ICMPv6DstUnreachableMinimumSize],
		Src:    tcpip.AddrFrom16(dst.Addr().As16()), Dst: tcpip.AddrFrom16(src.Addr().As16()),
		PayloadCsum: checksum.Checksum(quoted, 0), PayloadLen: len(quoted),
	}))
	return pkt
}

// RefuseUDP answers the command's datagram from src to dst with an ICMP
// port unreachable (see portUnreachable). The flow's UDPRequest.Conn must
// still be closed by its owner.
func (s *Stack) RefuseUDP(src, dst netip.AddrPort) error {
	return s.writeRaw(portUnreachable(src, dst))
}
