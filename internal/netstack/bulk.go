package netstack

import (
	"sync"
	"time"
)

// A relay writes a download to the command one read at a time; on an
// intercepted flow that is one TLS record (16 KiB of plaintext) per
// write. Sent at once, each write is a segment of its own, and the TUN,
// the box's kernel and gVisor pay per segment. So while writes are that
// large, a TCPConn lets gVisor's Nagle algorithm hold a segment for the
// next writes to join (up to the TUN's 64 KiB GSO size); a small write
// turns it off, which sends what is held at once, and bulkHold bounds how
// long a segment waits after the last large write. Small writes (a
// handshake flight, a response head) are never held: Nagle with a
// command that delays its ACKs would cost them tens of milliseconds.
// Measured: TLS download through htapod about +25 % (docs/performance.md).
const (
	bulkWrite = 16 << 10
	bulkHold  = 200 * time.Microsecond
)

// bulkState is a TCPConn's Nagle switch and the timer that turns it off.
type bulkState struct {
	mu    sync.Mutex
	on    bool
	timer *time.Timer
}

// bulkBefore sets Nagle for a write of n bytes.
func (c *TCPConn) bulkBefore(n int) {
	big := n >= bulkWrite
	c.bulk.mu.Lock()
	defer c.bulk.mu.Unlock()
	c.setNagle(big)
	if !big {
		return
	}
	if c.bulk.timer == nil {
		c.bulk.timer = time.AfterFunc(bulkHold, c.bulkFlush)
	} else {
		c.bulk.timer.Reset(bulkHold)
	}
}

// setNagle switches Nagle, under c.bulk.mu; off sends what it held.
func (c *TCPConn) setNagle(on bool) {
	if on != c.bulk.on {
		c.bulk.on = on
		c.ep.SocketOptions().SetDelayOption(on)
	}
}

// bulkFlush turns Nagle off (the timer's work).
func (c *TCPConn) bulkFlush() {
	c.bulk.mu.Lock()
	defer c.bulk.mu.Unlock()
	c.setNagle(false)
}

// bulkStop sends what is held and stops the timer, before a FIN or a
// close.
func (c *TCPConn) bulkStop() {
	c.bulk.mu.Lock()
	defer c.bulk.mu.Unlock()
	c.setNagle(false)
	if c.bulk.timer != nil {
		c.bulk.timer.Stop()
	}
}
