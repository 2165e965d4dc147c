package netstack

import (
	"net/netip"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// TestPortUnreachable checks the ICMP errors that refuse a UDP flow: from
// the destination to the command, type and code of a port unreachable,
// valid checksums, and a quote that names the flow's 4-tuple (all the
// kernel matches the socket by). The lab tests check a real client's
// ECONNREFUSED.
func TestPortUnreachable(t *testing.T) {
	tests := []struct{ src, dst string }{
		{"10.0.85.2:40000", "203.0.113.20:9"},
		{"[fd68:7461:706f::2]:40000", "[2001:db8::20]:9"},
	}
	for _, tt := range tests {
		t.Run(tt.dst, func(t *testing.T) {
			src, dst := netip.MustParseAddrPort(tt.src), netip.MustParseAddrPort(tt.dst)
			pkt := portUnreachable(src, dst)
			var from, to netip.Addr
			var quote []byte
			if dst.Addr().Is4() {
				ip := header.IPv4(pkt)
				if !ip.IsChecksumValid() {
					t.Error("bad IPv4 checksum")
				}
				icmp := header.ICMPv4(ip.Payload())
				if icmp.Type() != header.ICMPv4DstUnreachable || icmp.Code() != header.ICMPv4PortUnreachable {
					t.Errorf("type %d code %d; want port unreachable", icmp.Type(), icmp.Code())
				}
				if checksum.Checksum(icmp, 0) != 0xffff {
					t.Error("bad ICMP checksum")
				}
				from, to = netip.AddrFrom4(ip.SourceAddress().As4()), netip.AddrFrom4(ip.DestinationAddress().As4())
				quote = icmp[header.ICMPv4MinimumSize:]
				q := header.IPv4(quote)
				if q.Protocol() != uint8(header.UDPProtocolNumber) || q.SourceAddress() != tcpip.AddrFrom4(src.Addr().As4()) {
					t.Errorf("quoted header %x", quote)
				}
				quote = quote[header.IPv4MinimumSize:]
			} else {
				ip := header.IPv6(pkt)
				icmp := header.ICMPv6(ip.Payload())
				if icmp.Type() != header.ICMPv6DstUnreachable || icmp.Code() != header.ICMPv6PortUnreachable {
					t.Errorf("type %d code %d; want port unreachable", icmp.Type(), icmp.Code())
				}
				sum := header.ICMPv6Checksum(header.ICMPv6ChecksumParams{Header: icmp[:header.ICMPv6DstUnreachableMinimumSize],
					Src: ip.SourceAddress(), Dst: ip.DestinationAddress(),
					PayloadCsum: checksum.Checksum(icmp[header.ICMPv6DstUnreachableMinimumSize:], 0), PayloadLen: len(icmp) - header.ICMPv6DstUnreachableMinimumSize})
				if sum != icmp.Checksum() {
					t.Errorf("ICMPv6 checksum %x; want %x", icmp.Checksum(), sum)
				}
				from, to = netip.AddrFrom16(ip.SourceAddress().As16()), netip.AddrFrom16(ip.DestinationAddress().As16())
				quote = icmp[header.ICMPv6DstUnreachableMinimumSize+header.IPv6MinimumSize:]
			}
			if from != dst.Addr() || to != src.Addr() {
				t.Errorf("ICMP from %v to %v; want from %v to %v", from, to, dst.Addr(), src.Addr())
			}
			udp := header.UDP(quote)
			if udp.SourcePort() != src.Port() || udp.DestinationPort() != dst.Port() {
				t.Errorf("quoted ports %d → %d; want %d → %d", udp.SourcePort(), udp.DestinationPort(), src.Port(), dst.Port())
			}
		})
	}
}
