package netstack

import (
	"io"
	"sync/atomic"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// toCommand is the TCP header of a captured IPv4 packet the Stack wrote
// to the command, or nil.
func toCommand(fromBox bool, pkt []byte) header.TCP {
	if fromBox || len(pkt) < header.IPv4MinimumSize || pkt[0]>>4 != 4 {
		return nil
	}
	ip := header.IPv4(pkt)
	if ip.TransportProtocol() != header.TCPProtocolNumber {
		return nil
	}
	return header.TCP(ip.Payload())
}

// pureACKs counts the pure ACKs the Stack writes to the command.
func pureACKs(n *atomic.Int32) Capture {
	return func(fromBox bool, _ time.Time, pkt []byte) {
		if tcp := toCommand(fromBox, pkt); tcp != nil && tcp.Flags() == header.TCPFlagAck && len(tcp.Payload()) == 0 {
			n.Add(1)
		}
	}
}

// TestPureACKsRideOnResponses runs 100 request/response exchanges: when
// the response follows at once, the request's ACK rides on it and
// (nearly) no pure ACK is written; when the response takes 5 ms, each
// request is still acknowledged on its own, within ackDelay.
func TestPureACKsRideOnResponses(t *testing.T) {
	for _, tt := range []struct {
		name     string
		delay    time.Duration
		min, max int32
	}{
		{"response at once", 0, 0, 20},
		{"response after 5 ms", 5 * time.Millisecond, 90, 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var acks atomic.Int32
			tn := newTestNetWith(t, testNetOptions{capture: pureACKs(&acks)})
			a := tn.connect(t, remote4)
			go func() {
				b := make([]byte, 100)
				for {
					if _, err := io.ReadFull(a.server, b); err != nil {
						return
					}
					time.Sleep(tt.delay)
					if _, err := a.server.Write(b); err != nil {
						return
					}
				}
			}()
			within(t, "100 exchanges", func() {
				req, resp := make([]byte, 100), make([]byte, 100)
				for range 100 {
					if _, err := a.client.Write(req); err != nil {
						t.Error(err)
						return
					}
					if _, err := io.ReadFull(a.client, resp); err != nil {
						t.Error(err)
						return
					}
				}
			})
			time.Sleep(10 * ackDelay)
			if n := acks.Load(); n < tt.min || n > tt.max {
				t.Errorf("%d pure ACKs for 100 requests; want %d to %d", n, tt.min, tt.max)
			}
		})
	}
}
