package sandbox

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// setupNetwork brings lo up, creates the TUN device, gives it the box's
// addresses and routes all traffic of both families through it. It returns
// the TUN's fd and whether the device is persistent.
func setupNetwork(spec *childSpec) (int, bool, *childError) {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return -1, false, stepErr("find lo", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return -1, false, stepErr("bring lo up", err)
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, false, stepErr("open /dev/net/tun", err)
	}
	ifr, err := unix.NewIfreq(spec.TUNName)
	if err != nil {
		unix.Close(fd)
		return -1, false, stepErr("create tun", err)
	}
	flags := uint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if spec.VnetHdr {
		flags |= unix.IFF_VNET_HDR
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return -1, false, stepErr("create tun", err)
	}
	if spec.VnetHdr {
		// Checksums may stay partial: the box's kernel does not compute
		// those of what it sends, nor verify those of what it receives
		// marked partial (see netstack's vnetEndpoint).
		if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, unix.TUN_F_CSUM); err != nil {
			unix.Close(fd)
			return -1, false, stepErr("set tun offload", err)
		}
	}
	// A persistent device is not unregistered when its last fd closes,
	// which takes the closing process about 20 ms of RCU grace periods;
	// it goes with the box's network namespace, in a kernel worker. Not
	// persistent, the parent hands the last fd to a helper (Box.Close).
	persistent := unix.IoctlSetInt(fd, unix.TUNSETPERSIST, 1) == nil
	if cerr := configureTUN(spec); cerr != nil {
		unix.Close(fd)
		return -1, false, cerr
	}
	return fd, persistent, nil
}

func configureTUN(spec *childSpec) *childError {
	link, err := netlink.LinkByName(spec.TUNName)
	if err != nil {
		return stepErr("find tun", err)
	}
	if err := netlink.LinkSetMTU(link, spec.MTU); err != nil {
		return stepErr(fmt.Sprintf("set mtu %d", spec.MTU), err)
	}
	// The TUN's queue holds what the command sent until htapod reads it: a
	// burst of datagrams beyond the default 500 would be dropped there.
	if err := netlink.LinkSetTxQLen(link, tunQueueLen); err != nil {
		return stepErr("set tun queue length", err)
	}
	if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: hostNet(spec.Addr4)}); err != nil {
		return stepErr("add address "+spec.Addr4.String(), err)
	}
	v6 := spec.Addr6.IsValid()
	if v6 {
		// NODAD: the address is usable at once; duplicate detection on a
		// TUN with no one else on it would only delay the first packets.
		if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: hostNet(spec.Addr6), Flags: unix.IFA_F_NODAD}); err != nil {
			v6 = false // IPv6 switched off on this host: the box has IPv4 only.
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return stepErr("bring tun up", err)
	}
	idx := link.Attrs().Index
	if err := netlink.RouteAdd(&netlink.Route{LinkIndex: idx, Dst: defaultNet(false), Scope: netlink.SCOPE_LINK}); err != nil {
		return stepErr("add IPv4 default route", err)
	}
	if v6 {
		if err := netlink.RouteAdd(&netlink.Route{LinkIndex: idx, Dst: defaultNet(true)}); err != nil {
			return stepErr("add IPv6 default route", err)
		}
	}
	return nil
}

// tunQueueLen is the TUN's transmit queue, in packets.
const tunQueueLen = 10000

func hostNet(a netip.Addr) *net.IPNet {
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(a.BitLen(), a.BitLen())}
}

func defaultNet(v6 bool) *net.IPNet {
	if v6 {
		return &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
	}
	return &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}
}
