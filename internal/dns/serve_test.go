package dns

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/internal/testnet"
)

// newServeResolver answers www.lab.test from a hosts file and forwards
// nothing (other names get SERVFAIL).
func newServeResolver(tb testing.TB) (*Resolver, *eventLog) {
	tb.Helper()
	return newTestResolver(tb, Config{HostsFile: writeHosts(tb, "203.0.113.10 www.lab.test\n")})
}

// newTCPPair returns the two ends of a loopback TCP connection.
func newTCPPair(tb testing.TB) (client, server *net.TCPConn) {
	tb.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	ch := make(chan *net.TCPConn, 1)
	go func() {
		c, _ := ln.AcceptTCP()
		ch <- c
	}()
	client, err = net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	server = <-ch
	if server == nil {
		tb.Fatalf("accept failed")
	}
	client.SetDeadline(time.Now().Add(testTimeout))
	tb.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// newUDPPair returns two loopback UDP sockets connected to each other; the
// client's reads and writes time out after testTimeout.
func newUDPPair(tb testing.TB) (client, server *net.UDPConn) {
	client, server = testnet.UDPPair(tb)
	client.SetDeadline(time.Now().Add(testTimeout))
	return client, server
}

// serve runs f in a goroutine with a context cancelled at cleanup, and
// returns a channel closed when f returns.
func serve(tb testing.TB, f func(ctx context.Context)) (context.CancelFunc, <-chan struct{}) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f(ctx) }()
	tb.Cleanup(func() { cancel(); <-done })
	return cancel, done
}

func await(tb testing.TB, done <-chan struct{}, what string) {
	tb.Helper()
	select {
	case <-done:
	case <-time.After(testTimeout):
		tb.Fatalf("%s did not return within %v", what, testTimeout)
	}
}

// readTCPMsg reads one length-prefixed message.
func readTCPMsg(tb testing.TB, c io.Reader) *mdns.Msg {
	tb.Helper()
	var n [2]byte
	if _, err := io.ReadFull(c, n[:]); err != nil {
		tb.Fatalf("read length: %v", err)
	}
	b := make([]byte, binary.BigEndian.Uint16(n[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		tb.Fatalf("read message: %v", err)
	}
	m := new(mdns.Msg)
	if err := m.Unpack(b); err != nil {
		tb.Fatalf("unpack: %v", err)
	}
	return m
}

func TestServeTCPPipelined(t *testing.T) {
	r, log := newServeResolver(t)
	client, server := newTCPPair(t)
	_, done := serve(t, func(ctx context.Context) { r.ServeTCP(ctx, server) })

	// Three queries in one write (pipelined, RFC 7766 §6.2.1.1): the
	// server must answer each, in order.
	ids := []uint16{11, 12, 13}
	var wire []byte
	for _, id := range ids {
		q := query(t, id, "www.lab.test.", mdns.TypeA)
		wire = binary.BigEndian.AppendUint16(wire, uint16(len(q)))
		wire = append(wire, q...)
	}
	if _, err := client.Write(wire); err != nil {
		t.Fatalf("write queries: %v", err)
	}
	for _, id := range ids {
		m := readTCPMsg(t, client)
		if m.Id != id || m.Rcode != mdns.RcodeSuccess || len(m.Answer) != 1 {
			t.Errorf("response = id %d rcode %s %d answers; want id %d NOERROR 1 answer", m.Id, mdns.RcodeToString[m.Rcode], len(m.Answer), id)
		}
	}
	client.Close()
	await(t, done, "ServeTCP after the client closed")
	want := netip.MustParseAddrPort(server.LocalAddr().String())
	for _, ev := range log.all() {
		if ev.Transport != event.TCP || ev.Server != want {
			t.Errorf("event Transport, Server = %q, %v; want tcp, %v", ev.Transport, ev.Server, want)
		}
	}
	if n := len(log.all()); n != len(ids) {
		t.Errorf("got %d events; want %d", n, len(ids))
	}
}

func TestServeTCPEnds(t *testing.T) {
	tests := []struct {
		name string
		end  func(client *net.TCPConn, cancel context.CancelFunc)
	}{
		{"context cancelled", func(_ *net.TCPConn, cancel context.CancelFunc) { cancel() }},
		{"client half-closes", func(c *net.TCPConn, _ context.CancelFunc) { c.CloseWrite() }},
		{"message cut short", func(c *net.TCPConn, _ context.CancelFunc) { c.Write([]byte{0, 40, 1, 2}); c.CloseWrite() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := newServeResolver(t)
			client, server := newTCPPair(t)
			cancel, done := serve(t, func(ctx context.Context) { r.ServeTCP(ctx, server) })
			tt.end(client, cancel)
			await(t, done, "ServeTCP")
			// ServeTCP closed its conn: the client reads EOF.
			if _, err := client.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("client Read after ServeTCP returned: err = %v; want EOF", err)
			}
		})
	}
}

func TestServeUDP(t *testing.T) {
	r, log := newServeResolver(t)
	client, server := newUDPPair(t)
	cancel, done := serve(t, func(ctx context.Context) { r.ServeUDP(ctx, server) })

	ids := map[uint16]bool{21: true, 22: true, 23: true}
	for id := range ids {
		if _, err := client.Write(query(t, id, "www.lab.test.", mdns.TypeA)); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	// A datagram that is not DNS is dropped, not answered.
	client.Write([]byte{1, 2, 3})
	buf := make([]byte, 65535)
	for range len(ids) {
		n, err := client.Read(buf)
		if err != nil {
			t.Fatalf("read response: %v", err)
		}
		m := new(mdns.Msg)
		if err := m.Unpack(buf[:n]); err != nil {
			t.Fatalf("unpack response: %v", err)
		}
		if !ids[m.Id] || m.Rcode != mdns.RcodeSuccess || len(m.Answer) != 1 {
			t.Errorf("response = id %d rcode %s %d answers; want one of the pending ids, NOERROR, 1 answer", m.Id, mdns.RcodeToString[m.Rcode], len(m.Answer))
		}
		delete(ids, m.Id)
	}
	client.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, err := client.Read(buf); err == nil {
		t.Errorf("got an extra datagram %x; want none for the non-DNS datagram", buf[:n])
	}
	cancel()
	await(t, done, "ServeUDP after cancel")
	want := netip.MustParseAddrPort(server.LocalAddr().String())
	evs := log.all()
	if len(evs) != 3 {
		t.Errorf("got %d events; want 3", len(evs))
	}
	for _, ev := range evs {
		if ev.Transport != event.UDP || ev.Server != want {
			t.Errorf("event Transport, Server = %q, %v; want udp, %v", ev.Transport, ev.Server, want)
		}
	}
}

// peekConn is a UDP socket that can wait for a datagram without reading
// it, as the netstack's UDP conns the resolver is given can.
type peekConn struct{ *net.UDPConn }

func (c peekConn) WaitReadable(deadline time.Time) error {
	c.SetReadDeadline(deadline)
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var one [1]byte
	werr := rc.Read(func(fd uintptr) bool {
		_, _, err := unix.Recvfrom(int(fd), one[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		return err != unix.EAGAIN
	})
	return werr
}

// TestServeUDPIdleFlowHoldsNoBuffer: a program may open a UDP flow per
// lookup, and each is served until it has been idle for 10 s; while it
// waits it must not hold its 8 KiB query buffer. A flow that then gets
// a query still answers it.
func TestServeUDPIdleFlowHoldsNoBuffer(t *testing.T) {
	r, _ := newServeResolver(t)
	const flows = 200
	const perFlow = 4 << 10 // the buffer is maxQuery, 8 KiB
	clients := make([]*net.UDPConn, flows)
	before := testnet.HeapInUse()
	for i := range clients {
		client, server := newUDPPair(t)
		clients[i] = client
		serve(t, func(ctx context.Context) { r.ServeUDP(ctx, peekConn{server}) })
	}
	time.Sleep(100 * time.Millisecond) // every flow waiting
	grown := int64(testnet.HeapInUse()) - int64(before)
	t.Logf("%d idle UDP flows to the resolver: heap +%d KiB", flows, grown>>10)
	if grown > flows*perFlow {
		t.Errorf("%d idle flows grew the heap by %d KiB (%d B each); want at most %d B each",
			flows, grown>>10, grown/flows, perFlow)
	}
	c := clients[flows/2]
	if _, err := c.Write(query(t, 7, "www.lab.test.", mdns.TypeA)); err != nil {
		t.Fatalf("write: %v", err)
	}
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	m := new(mdns.Msg)
	if err != nil || m.Unpack(buf[:n]) != nil || m.Id != 7 || len(m.Answer) != 1 {
		t.Fatalf("answer to a waiting flow: %d bytes, %v; want id 7 with one answer", n, err)
	}
}
