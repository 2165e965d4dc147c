package netstack

import (
	"io"
	"sync/atomic"
	"testing"
	"time"
)

// dataPackets counts the packets with TCP payload the Stack writes to the
// command.
func dataPackets(n *atomic.Int32) Capture {
	return func(fromBox bool, _ time.Time, pkt []byte) {
		if tcp := toCommand(fromBox, pkt); tcp != nil && len(tcp.Payload()) > 0 {
			n.Add(1)
		}
	}
}

// TestBulkWritesJoin writes 4 MiB to the command in 16 KiB pieces, as the
// relay writes a TLS download one record at a time, on a link with the
// TUN's MTU: the pieces leave in fewer, larger segments than writes, and
// every byte arrives.
func TestBulkWritesJoin(t *testing.T) {
	const piece, pieces = 16 << 10, 256
	var pkts atomic.Int32
	tn := newTestNetWith(t, testNetOptions{vnet: true, mtu: 65520, capture: dataPackets(&pkts)})
	a := tn.connect(t, remote4)
	go func() {
		b := make([]byte, piece)
		for range pieces {
			if _, err := a.server.Write(b); err != nil {
				t.Error(err)
				return
			}
		}
		a.server.CloseWrite()
	}()
	var got int64
	within(t, "read the download", func() { got, _ = io.Copy(io.Discard, a.client) })
	if got != piece*pieces {
		t.Fatalf("the command read %d bytes; want %d", got, piece*pieces)
	}
	if n := pkts.Load(); n > pieces*3/4 {
		t.Errorf("%d segments for %d writes of %d bytes; want them joined (at most %d)", n, pieces, piece, pieces*3/4)
	}
}

// TestBulkHoldEnds checks the switch: a large write turns Nagle on, it
// goes off by itself soon after the last one, and a small write turns it
// off at once.
func TestBulkHoldEnds(t *testing.T) {
	tn := newTestNet(t)
	a := tn.connect(t, remote4)
	go io.Copy(io.Discard, a.client)
	delay := func() bool { return a.server.ep.SocketOptions().GetDelayOption() }
	within(t, "write", func() { a.server.Write(make([]byte, bulkWrite)) })
	deadline := time.Now().Add(100 * bulkHold)
	for delay() && time.Now().Before(deadline) {
		time.Sleep(bulkHold / 4)
	}
	if delay() {
		t.Errorf("Nagle still on %v after the last large write; want off within %v", 100*bulkHold, bulkHold)
	}
	within(t, "write", func() { a.server.Write(make([]byte, bulkWrite)) })
	within(t, "write", func() { a.server.Write(make([]byte, 100)) })
	if delay() {
		t.Error("Nagle on after a small write; want off")
	}
}
