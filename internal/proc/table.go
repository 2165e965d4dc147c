package proc

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"strconv"
)

// socketInode finds the socket of the 4-tuple local → remote in the
// socket tables of pid's network namespace (/proc/PID/net/tcp and tcp6,
// or udp and udp6) and returns its inode. A UDP socket that sent with
// sendto (not connected) is listed with no remote address, and matches
// by its local one. An IPv6 socket that reached an IPv4 address is listed
// in tcp6 with IPv4-mapped addresses; they match too.
func socketInode(pid int, udp bool, local, remote netip.AddrPort) (uint64, error) {
	names := [2]string{"tcp", "tcp6"}
	if udp {
		names = [2]string{"udp", "udp6"}
	}
	if local.Addr().Is6() && !local.Addr().Is4In6() {
		names[0], names[1] = names[1], names[0] // most likely first
	}
	var unconnected uint64
	for _, name := range names {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/net/" + name)
		if err != nil {
			return 0, fmt.Errorf("read socket table: %w", err)
		}
		ino, wild := scanTable(b, udp, local, remote)
		if ino != 0 {
			return ino, nil
		}
		if unconnected == 0 {
			unconnected = wild
		}
	}
	if unconnected != 0 {
		return unconnected, nil
	}
	return 0, errNotFound
}

// scanTable looks through one socket table. It returns the inode of the
// socket with exactly local and remote, or else (UDP) of one bound to
// local's port with no remote address.
func scanTable(b []byte, udp bool, local, remote netip.AddrPort) (exact, wild uint64) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 512), 4096)
	sc.Scan() // the header
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 10 {
			continue
		}
		l, ok1 := parseHexAddr(f[1])
		r, ok2 := parseHexAddr(f[2])
		if !ok1 || !ok2 || l.Port() != local.Port() {
			continue
		}
		ino, err := strconv.ParseUint(string(f[9]), 10, 64)
		if err != nil || ino == 0 {
			continue // a socket in TIME_WAIT has no inode
		}
		if sameAddr(r, remote) && (sameAddr(l, local) || l.Addr().IsUnspecified()) {
			return ino, 0
		}
		if udp && r.Port() == 0 && r.Addr().IsUnspecified() &&
			(sameAddr(l, local) || l.Addr().IsUnspecified()) && wild == 0 {
			wild = ino
		}
	}
	return 0, wild
}

func sameAddr(a, b netip.AddrPort) bool {
	return a.Port() == b.Port() && a.Addr().Unmap() == b.Addr().Unmap()
}

// parseHexAddr parses the kernel's "0100007F:1F90": the address as 32-bit
// words in the host's byte order, then the port in hex.
func parseHexAddr(s []byte) (netip.AddrPort, bool) {
	i := bytes.IndexByte(s, ':')
	if i < 0 {
		return netip.AddrPort{}, false
	}
	port, err := strconv.ParseUint(string(s[i+1:]), 16, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	raw := make([]byte, i/2)
	if _, err := hex.Decode(raw, s[:i]); err != nil {
		return netip.AddrPort{}, false
	}
	for w := 0; w+4 <= len(raw); w += 4 {
		binary.BigEndian.PutUint32(raw[w:], binary.NativeEndian.Uint32(raw[w:]))
	}
	a, ok := netip.AddrFromSlice(raw)
	if !ok {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(a, uint16(port)), true
}
