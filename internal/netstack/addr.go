package netstack

import (
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
)

func toAddrPort(a tcpip.Address, port uint16) netip.AddrPort {
	ip, _ := netip.AddrFromSlice(a.AsSlice())
	return netip.AddrPortFrom(ip.Unmap(), port)
}
