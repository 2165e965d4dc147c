package netstack

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// checksumChecker is a Capture that checks the TCP and UDP checksum of
// every packet it sees and remembers the first bad one.
type checksumChecker struct {
	tcp, udp atomic.Int64
	mu       sync.Mutex
	bad      error
}

func (c *checksumChecker) capture(fromBox bool, _ time.Time, pkt []byte) {
	if err := checkTransportChecksum(pkt, &c.tcp, &c.udp); err != nil {
		c.mu.Lock()
		if c.bad == nil {
			c.bad = fmt.Errorf("fromBox=%v: %w", fromBox, err)
		}
		c.mu.Unlock()
	}
}

func (c *checksumChecker) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bad
}

// checkTransportChecksum verifies the checksum of an IPv4 or IPv6 packet's
// TCP or UDP segment, counting them.
func checkTransportChecksum(pkt []byte, tcp, udp *atomic.Int64) error {
	var src, dst []byte
	var proto uint8
	var payload []byte
	switch header.IPVersion(pkt) {
	case 4:
		ip := header.IPv4(pkt)
		src, dst, proto = pkt[12:16], pkt[16:20], ip.Protocol()
		payload = pkt[ip.HeaderLength():ip.TotalLength()]
	case 6:
		ip := header.IPv6(pkt)
		src, dst, proto = pkt[8:24], pkt[24:40], ip.NextHeader()
		payload = pkt[header.IPv6MinimumSize : header.IPv6MinimumSize+int(ip.PayloadLength())]
	default:
		return fmt.Errorf("not IP: % x", pkt[:min(len(pkt), 8)])
	}
	switch proto {
	case uint8(header.TCPProtocolNumber):
		tcp.Add(1)
	case uint8(header.UDPProtocolNumber):
		udp.Add(1)
	default:
		return nil
	}
	var pseudo []byte
	pseudo = append(pseudo, src...)
	pseudo = append(pseudo, dst...)
	pseudo = append(pseudo, 0, proto)
	pseudo = binary.BigEndian.AppendUint16(pseudo, uint16(len(payload)))
	if sum := checksum.Checksum(payload, checksum.Checksum(pseudo, 0)); sum != 0xffff {
		return fmt.Errorf("protocol %d, %d bytes: checksum does not add up (sum %#04x)", proto, len(payload), sum)
	}
	return nil
}

// TestVnetHdr runs TCP both ways and UDP through the Stack on a link with a
// virtio-net header before every packet, as on a TUN with offloads: the
// bytes arrive whole, and every checksum is right where it must be. Without
// a capture the Stack leaves TCP checksums partial (the box's kernel does
// not need them); the client's link completes them, and they must then add
// up. With a capture the Stack computes them all, so the capture (and the
// client) see valid packets.
func TestVnetHdr(t *testing.T) {
	for _, withCapture := range []bool{false, true} {
		t.Run(map[bool]string{false: "offload", true: "capture"}[withCapture], func(t *testing.T) {
			var atStack, atClient checksumChecker
			opts := testNetOptions{vnet: true, clientCapture: atClient.capture}
			if withCapture {
				opts.capture = atStack.capture
			}
			tn := newTestNetWith(t, opts)
			a := tn.connect(t, remote6)
			const size = 1 << 20
			up, down := make([]byte, size), make([]byte, size)
			rand.Read(up)
			rand.Read(down)
			go func() {
				a.client.Write(up)
				a.client.CloseWrite()
			}()
			go func() {
				a.server.Write(down)
				a.server.CloseWrite()
			}()
			var gotUp, gotDown []byte
			within(t, "both directions", func() {
				gotUp, _ = io.ReadAll(a.server)
				gotDown, _ = io.ReadAll(a.client)
			})
			if !bytes.Equal(gotUp, up) || !bytes.Equal(gotDown, down) {
				t.Errorf("received %d bytes up and %d down; want the %d sent each way, unchanged", len(gotUp), len(gotDown), size)
			}
			if err := atClient.err(); err != nil {
				t.Errorf("a packet from the Stack, as the client's link completed it: %v", err)
			}
			if err := atStack.err(); err != nil {
				t.Errorf("a captured packet: %v", err)
			}
			if atClient.tcp.Load() == 0 || (withCapture && atStack.tcp.Load() == 0) {
				t.Errorf("checked %d TCP packets at the client and %d at the capture; want some", atClient.tcp.Load(), atStack.tcp.Load())
			}
		})
	}
}
