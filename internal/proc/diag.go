package proc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Reading /proc/PID/net/tcp walks the kernel's whole established-socket
// hash table (shared by all network namespaces: 4 ms on a host with a
// 262,144-bucket table), for every flow. The sock_diag netlink interface
// looks one socket up by its 4-tuple instead (inet_diag_find_one_icsk,
// udp_dump_one): a request that is not a dump, answered from the hash at
// once. The netlink socket must be in the box's network namespace; the
// box's init opens it and hands it over with the TUN (see
// sandbox.Box.Diag), since htapod cannot enter that namespace itself.

// Sizes of struct nlmsghdr, inet_diag_req_v2 and inet_diag_msg
// (linux/inet_diag.h).
const (
	nlHdrLen    = 16
	diagReqLen  = 56
	diagMsgLen  = 72
	inodeOffset = 68 // idiag_inode in inet_diag_msg
	tcpfAll     = 0xffffffff
	nocookie    = 0xffffffff
)

// diag looks sockets up over one sock_diag netlink socket.
type diag struct {
	mu  sync.Mutex
	f   *os.File
	fd  int
	seq uint32
	buf []byte
}

func newDiag(f *os.File) *diag {
	fd := int(f.Fd())
	tv := unix.NsecToTimeval(int64(time.Second))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	return &diag{f: f, fd: fd, buf: make([]byte, 8192)}
}

// inode finds the socket local → remote and returns its inode. An IPv4
// flow may belong to an IPv6 socket (IPv4-mapped), and an unconnected UDP
// socket matches any remote: the kernel's own lookup handles both.
func (d *diag) inode(udp bool, local, remote netip.AddrPort) (uint64, error) {
	proto := uint8(unix.IPPROTO_TCP)
	if udp {
		proto = unix.IPPROTO_UDP
		// udp_dump_one looks the socket up as for a datagram arriving
		// from the request's source: "src and dst are swapped for
		// historical reasons" (net/ipv4/udp_diag.c).
		local, remote = remote, local
	}
	families := []uint8{unix.AF_INET, unix.AF_INET6}
	if local.Addr().Is6() && !local.Addr().Is4In6() {
		families = families[1:]
	}
	var last error = errNotFound
	for _, fam := range families {
		ino, err := d.get(fam, proto, local, remote)
		if err == nil {
			return ino, nil
		}
		if !errors.Is(err, unix.ENOENT) {
			last = err
		}
	}
	return 0, last
}

func (d *diag) get(family, proto uint8, src, dst netip.AddrPort) (uint64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq++
	req := make([]byte, nlHdrLen+diagReqLen)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(req[8:], d.seq)
	r := req[nlHdrLen:]
	r[0], r[1] = family, proto
	binary.NativeEndian.PutUint32(r[4:], tcpfAll)
	binary.BigEndian.PutUint16(r[8:], src.Port())
	binary.BigEndian.PutUint16(r[10:], dst.Port())
	putAddr(r[12:28], src.Addr(), family)
	putAddr(r[28:44], dst.Addr(), family)
	binary.NativeEndian.PutUint32(r[48:], nocookie)
	binary.NativeEndian.PutUint32(r[52:], nocookie)
	if err := unix.Sendto(d.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("sock_diag request: %w", err)
	}
	for {
		n, _, err := unix.Recvfrom(d.fd, d.buf, 0)
		if err != nil {
			return 0, fmt.Errorf("sock_diag answer: %w", err)
		}
		b := d.buf[:n]
		if len(b) < nlHdrLen {
			return 0, errors.New("sock_diag answer: short message")
		}
		if binary.NativeEndian.Uint32(b[8:]) != d.seq {
			continue // an answer to an earlier request that timed out
		}
		switch binary.NativeEndian.Uint16(b[4:]) {
		case unix.NLMSG_ERROR:
			if len(b) < nlHdrLen+4 {
				return 0, errors.New("sock_diag answer: short error")
			}
			return 0, syscall.Errno(-int32(binary.NativeEndian.Uint32(b[nlHdrLen:])))
		case unix.SOCK_DIAG_BY_FAMILY:
			if len(b) < nlHdrLen+diagMsgLen {
				return 0, errors.New("sock_diag answer: short message")
			}
			return uint64(binary.NativeEndian.Uint32(b[nlHdrLen+inodeOffset:])), nil
		}
		return 0, errors.New("sock_diag answer: unexpected message")
	}
}

// putAddr writes a in the request's 16 bytes: IPv4 in the first 4, IPv6
// (IPv4 as mapped) in all.
func putAddr(b []byte, a netip.Addr, family uint8) {
	if family == unix.AF_INET {
		a4 := a.Unmap().As4()
		copy(b, a4[:])
		return
	}
	a16 := a.As16()
	copy(b, a16[:])
}
