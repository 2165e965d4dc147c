package netstack

import (
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// TestCloseWhilePacketsArrive closes a Stack while its reader is busy
// delivering packets, as at the end of a run whose command still sends:
// Close must return. (Detaching the endpoint through gVisor's RemoveNIC
// waited for the reader while holding the stack's lock, which the reader
// needs for every IPv4 packet: htapod hung at the end of a busy run.)
func TestCloseWhilePacketsArrive(t *testing.T) {
	pkt := udpPacket(t)
	for i := range 20 {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatalf("socketpair: %v", err)
		}
		st, err := New(Config{FD: fds[0], MTU: testMTU, VnetHdr: true,
			UDP: func(r *UDPRequest) { r.Conn.Close() }})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		unix.SetNonblock(fds[1], true) // a full socket drops, as a TUN queue does
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // the command, sending as fast as it can
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				unix.Write(fds[1], pkt)
			}
		}()
		time.Sleep(5 * time.Millisecond)
		closed := make(chan struct{})
		go func() { st.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatalf("close %d: Stack.Close did not return within 10s while packets arrived", i)
		}
		close(stop)
		unix.Close(fds[0]) // the writer's next write fails instead of blocking
		wg.Wait()
		unix.Close(fds[1])
	}
}

// udpPacket is a virtio-net header and an IPv4 UDP datagram to
// 192.0.2.1:9, checksums filled in.
func udpPacket(tb testing.TB) []byte {
	tb.Helper()
	payload := []byte("ping")
	b := make([]byte, vnetHdrLen+header.IPv4MinimumSize+header.UDPMinimumSize+len(payload))
	ip := header.IPv4(b[vnetHdrLen:])
	src, dst := tcpip.AddrFrom4([4]byte{10, 0, 85, 2}), tcpip.AddrFrom4([4]byte{192, 0, 2, 1})
	ip.Encode(&header.IPv4Fields{TotalLength: uint16(len(ip)), TTL: 64,
		Protocol: uint8(header.UDPProtocolNumber), SrcAddr: src, DstAddr: dst})
	ip.SetChecksum(^ip.CalculateChecksum())
	udp := header.UDP(ip[header.IPv4MinimumSize:])
	udp.Encode(&header.UDPFields{SrcPort: 40000, DstPort: 9, Length: uint16(len(udp))})
	copy(udp.Payload(), payload)
	xsum := header.PseudoHeaderChecksum(header.UDPProtocolNumber, src, dst, uint16(len(udp)))
	udp.SetChecksum(^udp.CalculateChecksum(checksum.Checksum(udp.Payload(), xsum)))
	return b
}
