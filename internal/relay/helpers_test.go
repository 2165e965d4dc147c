package relay

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/dissect/tlshello"
	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/internal/testnet"
)

// testTimeout bounds every wait in these tests: a relay that hangs fails
// the test instead of stalling the run.
const testTimeout = 10 * time.Second

var loopback4 = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}

// newTCPPair returns the two ends of a connected loopback TCP connection.
// Both are closed at cleanup.
func newTCPPair(tb testing.TB) (a, b *net.TCPConn) {
	tb.Helper()
	ln, err := net.ListenTCP("tcp", loopback4)
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	type accepted struct {
		c   *net.TCPConn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := ln.AcceptTCP()
		ch <- accepted{c, err}
	}()
	a, err = net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		tb.Fatalf("dial %v: %v", ln.Addr(), err)
	}
	r := <-ch
	if r.err != nil {
		a.Close()
		tb.Fatalf("accept: %v", r.err)
	}
	tb.Cleanup(func() { a.Close(); r.c.Close() })
	return a, r.c
}

// newUDPPair returns two loopback UDP sockets connected to each other.
func newUDPPair(tb testing.TB) (a, b *net.UDPConn) { return testnet.UDPPair(tb) }

// newTCPEcho starts a loopback TCP server that echoes each connection
// until EOF, then half-closes and closes it. It returns its address.
func newTCPEcho(tb testing.TB) *net.TCPAddr {
	tb.Helper()
	ln, err := net.ListenTCP("tcp", loopback4)
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	testnet.ServeConns(tb, ln, func(c net.Conn) {
		io.Copy(c, c)
		c.(*net.TCPConn).CloseWrite()
	})
	return ln.Addr().(*net.TCPAddr)
}

// newUDPEcho starts a loopback UDP server that sends every datagram back.
func newUDPEcho(tb testing.TB) *net.UDPAddr {
	tb.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatalf("listen udp: %v", err)
	}
	testnet.ServeUDPEcho(tb, c)
	return c.LocalAddr().(*net.UDPAddr)
}

// closedTCPPort returns a loopback address where nothing listens.
func closedTCPPort(tb testing.TB) *net.TCPAddr {
	tb.Helper()
	ln, err := net.ListenTCP("tcp", loopback4)
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	a := ln.Addr().(*net.TCPAddr)
	ln.Close()
	return a
}

// closedUDPPort returns a loopback address where no UDP socket is bound.
func closedUDPPort(tb testing.TB) *net.UDPAddr {
	tb.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatalf("listen udp: %v", err)
	}
	a := c.LocalAddr().(*net.UDPAddr)
	c.Close()
	return a
}

// recorder collects events; safe for concurrent use.
type recorder struct {
	mu     sync.Mutex
	events []event.Event
	flowCh chan *event.Flow
}

func newRecorder(tb testing.TB) *recorder {
	tb.Helper()
	return &recorder{flowCh: make(chan *event.Flow, 64)}
}

func (r *recorder) handle(e event.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	if f, ok := e.(*event.Flow); ok {
		r.flowCh <- f
	}
}

// flow waits for the next flow event.
func (r *recorder) flow(tb testing.TB) *event.Flow {
	tb.Helper()
	select {
	case f := <-r.flowCh:
		return f
	case <-time.After(testTimeout):
		tb.Fatalf("no flow event within %v", testTimeout)
		return nil
	}
}

// noFlow checks that no flow event was emitted (so far).
func (r *recorder) noFlow(tb testing.TB) {
	tb.Helper()
	select {
	case f := <-r.flowCh:
		tb.Errorf("unexpected flow event %+v", f)
	default:
	}
}

func (r *recorder) notices() []*event.Notice {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*event.Notice
	for _, e := range r.events {
		if n, ok := e.(*event.Notice); ok {
			out = append(out, n)
		}
	}
	return out
}

// start runs f in a goroutine and returns a channel closed when f returns.
func start(f func()) <-chan struct{} {
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	return done
}

// await fails the test if done is not closed within testTimeout.
func await(tb testing.TB, done <-chan struct{}, what string) {
	tb.Helper()
	select {
	case <-done:
	case <-time.After(testTimeout):
		tb.Fatalf("%s did not return within %v", what, testTimeout)
	}
}

// fakeDissector records what the relay fed it: it is both a dissect.Stream
// and a dissect.Datagrams.
type fakeDissector struct {
	mu     sync.Mutex
	meta   dissect.Meta
	first  []byte
	got    map[event.Direction]*bytes.Buffer
	count  map[event.Direction]int
	ended  map[event.Direction]bool
	closed bool
}

func newFakeDissector() *fakeDissector {
	return &fakeDissector{
		got:   map[event.Direction]*bytes.Buffer{Up: {}, Down: {}},
		count: map[event.Direction]int{},
		ended: map[event.Direction]bool{},
	}
}

// stream is a Config.Dissect that attaches d to every TCP flow.
func (d *fakeDissector) stream(meta dissect.Meta, first []byte, _ *tlshello.Hello, _ dissect.Emit) (dissect.Stream, string) {
	d.mu.Lock()
	d.meta, d.first = meta, bytes.Clone(first)
	d.mu.Unlock()
	return d, "fake"
}

// datagrams is a Config.DissectUDP that attaches d to every UDP flow.
func (d *fakeDissector) datagrams(meta dissect.Meta, _ dissect.Emit) (dissect.Datagrams, string) {
	d.mu.Lock()
	d.meta = meta
	d.mu.Unlock()
	return d, "fake"
}

func (d *fakeDissector) Data(dir event.Direction, b []byte, _ time.Time) error {
	return d.Datagram(dir, b, time.Time{})
}

func (d *fakeDissector) Datagram(dir event.Direction, b []byte, _ time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.got[dir].Write(b)
	d.count[dir]++
	return nil
}

func (d *fakeDissector) End(dir event.Direction, _ time.Time) {
	d.mu.Lock()
	d.ended[dir] = true
	d.mu.Unlock()
}

func (d *fakeDissector) Close(time.Time) {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
}

// seen returns the bytes fed for dir.
func (d *fakeDissector) seen(dir event.Direction) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.got[dir].String()
}

func (d *fakeDissector) state() (meta dissect.Meta, first []byte, closed bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.meta, d.first, d.closed
}
