package netstack

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/fdbased"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// The tests run the Stack under test on one end of a SOCK_SEQPACKET
// socketpair (one IP packet per message, like a TUN) and a second gVisor
// stack on the other end as the "kernel side": it plays the command, with
// the box's addresses and a default route into the pair. Nothing leaves
// the process.

const (
	testTimeout = 10 * time.Second
	testMTU     = 1500
)

var (
	clientAddr4 = netip.MustParseAddr("10.0.85.2")
	clientAddr6 = netip.MustParseAddr("fd00:85::2")
	remote4     = netip.MustParseAddrPort("203.0.113.10:80")
	remote6     = netip.MustParseAddrPort("[2001:db8::10]:443")
)

type testNet struct {
	st     *Stack
	client *stack.Stack
	fds    [2]int // fds[0] is the Stack's, fds[1] the client's
	tcp    chan *TCPRequest
	udp    chan *UDPRequest
}

// newTestNet starts the Stack under test and a client stack joined by a
// socketpair. Requests arrive on tn.tcp and tn.udp; the test decides them.
func newTestNet(tb testing.TB) *testNet {
	tb.Helper()
	return newTestNetWith(tb, testNetOptions{})
}

// testNetOptions vary the link between the two stacks.
type testNetOptions struct {
	// vnet runs both ends with a virtio-net header before each packet
	// (vnetEndpoint): the Stack as with the TUN's offloads, the client
	// completing the checksums the Stack leaves partial.
	vnet bool
	// capture is the Stack's Config.Capture; clientCapture sees every
	// packet the client stack receives, after its link endpoint.
	capture, clientCapture Capture
	// mtu is both ends' MTU, testMTU if 0; htapod's TUN has 65520.
	mtu uint32
}

func (o testNetOptions) linkMTU() uint32 {
	if o.mtu == 0 {
		return testMTU
	}
	return o.mtu
}

func newTestNetWith(tb testing.TB, opts testNetOptions) *testNet {
	tb.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatalf("socketpair: %v", err)
	}
	// The stacks drop what does not fit in the socketpair's buffer (a TUN
	// queue drops too, but is longer): make it as large as allowed, so that
	// bulk tests do not wait on loss recovery.
	for _, fd := range fds {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	}
	tn := &testNet{fds: fds, tcp: make(chan *TCPRequest, 16), udp: make(chan *UDPRequest, 16)}
	st, err := New(Config{
		FD:      fds[0],
		MTU:     opts.linkMTU(),
		VnetHdr: opts.vnet,
		Capture: opts.capture,
		TCP: func(r *TCPRequest) {
			select {
			case tn.tcp <- r:
			default:
				r.Drop() // the test is not listening (a retransmitted SYN)
			}
		},
		UDP: func(r *UDPRequest) {
			select {
			case tn.udp <- r:
			default:
				r.Conn.Close()
			}
		},
	})
	if err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		tb.Fatalf("New: %v", err)
	}
	tn.st = st
	tn.client = newClientStack(tb, fds[1], opts)
	tb.Cleanup(func() {
		tn.client.RemoveNIC(1) // stops its reader
		tn.client.Close()
		tn.client.Wait()
		st.Close()
		// Closing the peer first ends the Stack's reader, if it still runs.
		unix.Close(fds[1])
		unix.Close(fds[0])
	})
	return tn
}

func newClientStack(tb testing.TB, fd int, opts testNetOptions) *stack.Stack {
	tb.Helper()
	var ep stack.LinkEndpoint
	var err error
	if opts.vnet {
		ep, err = newVnetEndpoint(fd, opts.linkMTU(), true)
	} else {
		ep, err = fdbased.New(&fdbased.Options{FDs: []int{fd}, MTU: opts.linkMTU()})
	}
	if err != nil {
		tb.Fatalf("client link endpoint: %v", err)
	}
	if opts.clientCapture != nil {
		ep = newCaptureEndpoint(ep, opts.clientCapture, &synMemo{})
	}
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol},
	})
	if err := s.CreateNIC(1, ep); err != nil {
		tb.Fatalf("client nic: %v", err)
	}
	for _, a := range []struct {
		proto  tcpip.NetworkProtocolNumber
		addr   netip.Addr
		prefix int
	}{{ipv4.ProtocolNumber, clientAddr4, 24}, {ipv6.ProtocolNumber, clientAddr6, 64}} {
		pa := tcpip.ProtocolAddress{Protocol: a.proto, AddressWithPrefix: tcpip.AddressWithPrefix{
			Address: tcpip.AddrFromSlice(a.addr.AsSlice()), PrefixLen: a.prefix}}
		if err := s.AddProtocolAddress(1, pa, stack.AddressProperties{}); err != nil {
			tb.Fatalf("client address %v: %v", a.addr, err)
		}
	}
	s.SetRouteTable([]tcpip.Route{
		{Destination: header.IPv4EmptySubnet, NIC: 1},
		{Destination: header.IPv6EmptySubnet, NIC: 1},
	})
	return s
}

func fullAddr(ap netip.AddrPort) (tcpip.FullAddress, tcpip.NetworkProtocolNumber) {
	proto := ipv4.ProtocolNumber
	if ap.Addr().Is6() {
		proto = ipv6.ProtocolNumber
	}
	return tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFromSlice(ap.Addr().AsSlice()), Port: ap.Port()}, proto
}

// dialed is the outcome of a client dial.
type dialed struct {
	conn *gonet.TCPConn
	err  error
}

// dial starts a client connection to dst; the result arrives once the
// Stack's handler has decided.
func (tn *testNet) dial(ctx context.Context, dst netip.AddrPort) <-chan dialed {
	ch := make(chan dialed, 1)
	go func() {
		addr, proto := fullAddr(dst)
		c, err := gonet.DialContextTCP(ctx, tn.client, addr, proto)
		if c != nil {
			c.SetDeadline(time.Now().Add(testTimeout))
		}
		ch <- dialed{c, err}
	}()
	return ch
}

func (tn *testNet) tcpRequest(tb testing.TB) *TCPRequest {
	tb.Helper()
	select {
	case r := <-tn.tcp:
		return r
	case <-time.After(testTimeout):
		tb.Fatalf("no TCP request within %v", testTimeout)
		return nil
	}
}

func (tn *testNet) udpRequest(tb testing.TB) *UDPRequest {
	tb.Helper()
	select {
	case r := <-tn.udp:
		return r
	case <-time.After(testTimeout):
		tb.Fatalf("no UDP request within %v", testTimeout)
		return nil
	}
}

func waitDial(tb testing.TB, ch <-chan dialed) dialed {
	tb.Helper()
	select {
	case d := <-ch:
		return d
	case <-time.After(testTimeout):
		tb.Fatalf("client dial did not finish within %v", testTimeout)
		return dialed{}
	}
}

// accepted is a connection through the Stack: client on the kernel side,
// server the TCPConn that Accept returned.
type accepted struct {
	client *gonet.TCPConn
	server *TCPConn
	req    *TCPRequest
}

func (tn *testNet) connect(tb testing.TB, dst netip.AddrPort) accepted {
	tb.Helper()
	ch := tn.dial(context.Background(), dst)
	req := tn.tcpRequest(tb)
	server, err := req.Accept()
	if err != nil {
		tb.Fatalf("Accept: %v", err)
	}
	d := waitDial(tb, ch)
	if d.err != nil {
		server.Close()
		tb.Fatalf("client dial %v: %v", dst, d.err)
	}
	tb.Cleanup(func() { d.conn.Close(); server.Close() })
	return accepted{client: d.conn, server: server, req: req}
}

// within runs f and fails the test if it has not returned within
// testTimeout (the Stack's TCPConn has no deadlines of its own).
func within(tb testing.TB, what string, f func()) {
	tb.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(testTimeout):
		tb.Fatalf("%s did not return within %v", what, testTimeout)
	}
}

func TestTCPRequestAddresses(t *testing.T) {
	for _, tt := range []struct {
		name string
		src  netip.Addr
		dst  netip.AddrPort
	}{
		{"ipv4", clientAddr4, remote4},
		{"ipv6", clientAddr6, remote6},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tn := newTestNet(t)
			a := tn.connect(t, tt.dst)
			clientLocal := a.client.LocalAddr().(*net.TCPAddr).AddrPort()
			want := netip.AddrPortFrom(tt.src, clientLocal.Port())
			if a.req.Src != want || a.req.Dst != tt.dst {
				t.Errorf("TCPRequest Src, Dst = %v, %v; want %v, %v", a.req.Src, a.req.Dst, want, tt.dst)
			}
			if got := a.server.LocalAddr().String(); got != tt.dst.String() {
				t.Errorf("TCPConn.LocalAddr() = %s; want the destination %s", got, tt.dst)
			}
			if got := a.server.RemoteAddr().String(); got != want.String() {
				t.Errorf("TCPConn.RemoteAddr() = %s; want the command's %s", got, want)
			}
		})
	}
}

func TestTCPDataAndHalfClose(t *testing.T) {
	const size = 256 << 10
	tn := newTestNet(t)
	a := tn.connect(t, remote4)
	up, down := make([]byte, size), make([]byte, size)
	rand.Read(up)
	rand.Read(down)

	// Both directions at once; the client half-closes first.
	upGot := make(chan []byte, 1)
	go func() {
		b, err := io.ReadAll(a.server) // ends at the client's FIN
		if err != nil {
			t.Errorf("server ReadAll: %v", err)
		}
		upGot <- b
	}()
	go func() {
		if _, err := a.client.Write(up); err != nil {
			t.Errorf("client Write: %v", err)
		}
		if err := a.client.CloseWrite(); err != nil {
			t.Errorf("client CloseWrite: %v", err)
		}
	}()
	var gotUp []byte
	within(t, "server ReadAll", func() { gotUp = <-upGot })
	if sha256.Sum256(gotUp) != sha256.Sum256(up) {
		t.Errorf("server read %d bytes (equal=%v); want the %d bytes sent", len(gotUp), bytes.Equal(gotUp, up), size)
	}
	var n int
	var err error
	within(t, "server Read after EOF", func() { n, err = a.server.Read(make([]byte, 1)) })
	if n != 0 || err != io.EOF {
		t.Errorf("server Read after the client's FIN = %d, %v; want 0, io.EOF", n, err)
	}

	// The server may still send after the client's FIN.
	go func() {
		if _, err := a.server.Write(down); err != nil {
			t.Errorf("server Write after EOF: %v", err)
		}
		if err := a.server.CloseWrite(); err != nil {
			t.Errorf("server CloseWrite: %v", err)
		}
	}()
	gotDown, err := io.ReadAll(a.client)
	if err != nil || !bytes.Equal(gotDown, down) {
		t.Errorf("client ReadAll = %d bytes, %v; want the %d bytes sent, nil", len(gotDown), err, size)
	}
	// Each direction carried 256 KiB in segments of at most the MTU.
	minSegs := uint64(size / testMTU)
	if in, out := a.server.Segments(); in < minSegs || out < minSegs {
		t.Errorf("Segments() = %d in, %d out; want at least %d each way", in, out, minSegs)
	}
}

func TestCheck(t *testing.T) {
	if err := check("set x", nil); err != nil {
		t.Errorf("check(nil) = %v; want nil", err)
	}
	err := check("create nic", &tcpip.ErrDuplicateNICID{})
	if err == nil || !strings.HasPrefix(err.Error(), "create nic: ") {
		t.Errorf("check(ErrDuplicateNICID) = %v; want an error that starts with the operation", err)
	}
	if err := check("set x", &tcpip.ErrConnectionRefused{}); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("check(ErrConnectionRefused) = %v; want it to wrap ECONNREFUSED", err)
	}
}

func TestTCPRefusal(t *testing.T) {
	for _, tt := range []struct {
		name   string
		decide func(*TCPRequest)
		want   string
	}{
		{"Reset", (*TCPRequest).Reset, "refused"},
		// The client gets an ICMP error quoting its SYN, not a RST.
		{"Unreachable network", func(r *TCPRequest) { r.Unreachable(false) }, "network is unreachable"},
		{"Unreachable host", func(r *TCPRequest) { r.Unreachable(true) }, "no route to host"},
	} {
		// With a virtio-net header on the TUN, the ICMP errors htapod
		// writes beside the stack need one too.
		for _, vnet := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/vnet=%v", tt.name, vnet), func(t *testing.T) {
				tn := newTestNetWith(t, testNetOptions{vnet: vnet})
				ch := tn.dial(context.Background(), remote4)
				tt.decide(tn.tcpRequest(t))
				d := waitDial(t, ch)
				if d.err == nil || !strings.Contains(d.err.Error(), tt.want) {
					t.Errorf("client dial after %s: err = %v; want %q", tt.name, d.err, tt.want)
				}
			})
		}
	}
}

func TestTCPDrop(t *testing.T) {
	tn := newTestNet(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	ch := tn.dial(ctx, remote4)
	tn.tcpRequest(t).Drop()
	// No answer: the client waits until its own deadline.
	if d := waitDial(t, ch); !errors.Is(d.err, context.DeadlineExceeded) {
		t.Errorf("client dial after Drop: err = %v; want its context deadline", d.err)
	}
}

// dialRaw connects from the client stack and returns the raw endpoint too,
// so that the test can abort it (send a RST).
func (tn *testNet) dialRaw(tb testing.TB, dst netip.AddrPort) (tcpip.Endpoint, *TCPConn) {
	tb.Helper()
	addr, proto := fullAddr(dst)
	var wq waiter.Queue
	ep, terr := tn.client.NewEndpoint(tcp.ProtocolNumber, proto, &wq)
	if terr != nil {
		tb.Fatalf("client endpoint: %v", terr)
	}
	tb.Cleanup(ep.Close)
	entry, ch := waiter.NewChannelEntry(waiter.WritableEvents)
	wq.EventRegister(&entry)
	defer wq.EventUnregister(&entry)
	if terr := ep.Connect(addr); terr != nil {
		if _, ok := terr.(*tcpip.ErrConnectStarted); !ok {
			tb.Fatalf("client connect: %v", terr)
		}
	}
	server, err := tn.tcpRequest(tb).Accept()
	if err != nil {
		tb.Fatalf("Accept: %v", err)
	}
	tb.Cleanup(func() { server.Close() })
	select {
	case <-ch:
	case <-time.After(testTimeout):
		tb.Fatalf("client connect did not finish")
	}
	if terr := ep.LastError(); terr != nil {
		tb.Fatalf("client connect: %v", terr)
	}
	return ep, server
}

func TestTCPPeerResetReadsECONNRESET(t *testing.T) {
	tn := newTestNet(t)
	ep, server := tn.dialRaw(t, remote4)
	ep.Abort()
	var err error
	within(t, "server Read", func() { _, err = server.Read(make([]byte, 1)) })
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("server Read after the client's RST: err = %v; want ECONNRESET", err)
	}
	within(t, "server Write", func() { _, err = server.Write([]byte("x")) })
	if err == nil {
		t.Errorf("server Write after the client's RST: err = nil; want an error")
	}
}

func TestTCPAbortSendsReset(t *testing.T) {
	tn := newTestNet(t)
	a := tn.connect(t, remote4)
	a.server.Abort()
	_, err := a.client.Read(make([]byte, 1))
	if err == nil || !strings.Contains(err.Error(), "reset") {
		t.Errorf("client Read after Abort: err = %v; want connection reset", err)
	}
}

func TestTCPCloseSendsFIN(t *testing.T) {
	tn := newTestNet(t)
	a := tn.connect(t, remote4)
	if _, err := a.server.Write([]byte("bye")); err != nil {
		t.Fatalf("server Write: %v", err)
	}
	if err := a.server.Close(); err != nil {
		t.Errorf("Close() = %v; want nil", err)
	}
	got, err := io.ReadAll(a.client)
	if string(got) != "bye" || err != nil {
		t.Errorf("client ReadAll after Close = %q, %v; want %q, nil", got, err, "bye")
	}
}

func TestTCPConnDeadlinesUnsupported(t *testing.T) {
	tn := newTestNet(t)
	a := tn.connect(t, remote4)
	for name, set := range map[string]func(time.Time) error{
		"SetDeadline":      a.server.SetDeadline,
		"SetReadDeadline":  a.server.SetReadDeadline,
		"SetWriteDeadline": a.server.SetWriteDeadline,
	} {
		if err := set(time.Now()); !errors.Is(err, syscall.ENOTSUP) {
			t.Errorf("%s() = %v; want ENOTSUP", name, err)
		}
	}
}

func TestUDP(t *testing.T) {
	for _, tt := range []struct {
		name string
		src  netip.Addr
		dst  netip.AddrPort
	}{
		{"ipv4", clientAddr4, netip.MustParseAddrPort("203.0.113.10:5353")},
		{"ipv6", clientAddr6, netip.MustParseAddrPort("[2001:db8::10]:5353")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tn := newTestNet(t)
			raddr, proto := fullAddr(tt.dst)
			c, err := gonet.DialUDP(tn.client, nil, &raddr, proto)
			if err != nil {
				t.Fatalf("client DialUDP: %v", err)
			}
			t.Cleanup(func() { c.Close() })
			c.SetDeadline(time.Now().Add(testTimeout))
			if _, err := c.Write([]byte("ping")); err != nil {
				t.Fatalf("client Write: %v", err)
			}
			req := tn.udpRequest(t)
			t.Cleanup(func() { req.Conn.Close() })
			req.Conn.SetDeadline(time.Now().Add(testTimeout))
			want := netip.AddrPortFrom(tt.src, c.LocalAddr().(*net.UDPAddr).AddrPort().Port())
			if req.Src != want || req.Dst != tt.dst {
				t.Errorf("UDPRequest Src, Dst = %v, %v; want %v, %v", req.Src, req.Dst, want, tt.dst)
			}

			buf := make([]byte, 1500)
			n, err := req.Conn.Read(buf)
			if err != nil || string(buf[:n]) != "ping" {
				t.Errorf("req.Conn Read = %q, %v; want the first datagram %q", buf[:n], err, "ping")
			}
			// Later datagrams of the same 4-tuple go to the same Conn.
			if _, err := c.Write([]byte("again")); err != nil {
				t.Fatalf("client Write: %v", err)
			}
			n, err = req.Conn.Read(buf)
			if err != nil || string(buf[:n]) != "again" {
				t.Errorf("req.Conn Read = %q, %v; want %q", buf[:n], err, "again")
			}
			select {
			case r := <-tn.udp:
				t.Errorf("a second UDPRequest %v -> %v for the same 4-tuple", r.Src, r.Dst)
				r.Conn.Close()
			default:
			}

			if _, err := req.Conn.Write([]byte("pong")); err != nil {
				t.Fatalf("req.Conn Write: %v", err)
			}
			n, from, err := c.ReadFrom(buf)
			if err != nil || string(buf[:n]) != "pong" {
				t.Errorf("client ReadFrom = %q, %v; want %q", buf[:n], err, "pong")
			} else if got := from.(*net.UDPAddr).AddrPort(); got != tt.dst {
				t.Errorf("reply came from %v; want %v", got, tt.dst)
			}
		})
	}
}

func TestGarbageFromTheKernelSide(t *testing.T) {
	// Packets that are not IP, or are cut short, are dropped; the stack
	// goes on serving.
	tn := newTestNet(t)
	for _, p := range [][]byte{
		{0x00},
		{0x45, 0x00, 0x00},
		bytes.Repeat([]byte{0xff}, 60),
		append([]byte{0x60}, make([]byte, 39)...),
	} {
		if _, err := unix.Write(tn.fds[1], p); err != nil {
			t.Fatalf("write garbage: %v", err)
		}
	}
	a := tn.connect(t, remote4)
	if _, err := a.client.Write([]byte("x")); err != nil {
		t.Fatalf("client Write: %v", err)
	}
	within(t, "server Read", func() {
		if n, err := a.server.Read(make([]byte, 1)); n != 1 || err != nil {
			t.Errorf("server Read = %d, %v; want 1, nil", n, err)
		}
	})
}

func TestNewBadFD(t *testing.T) {
	st, err := New(Config{FD: -1, MTU: testMTU})
	if err == nil {
		st.Close()
		t.Fatalf("New(FD: -1) = nil error; want one")
	}
}

// TestTCPPortReusedAfterServerClose: when the server side closed first,
// the Stack ends in TIME-WAIT and the command's side, having closed
// second, may use the same port again at once (Linux does, rarely, under
// load). Its new connection must reach the Stack's handler: gVisor hands
// a SYN that meets a TIME-WAIT endpoint only to a listening endpoint, and
// the Stack has none (it forwards), so it dropped every SYN of such a
// connection for gVisor's 60 s TIME-WAIT: the command's connect hung.
func TestTCPPortReusedAfterServerClose(t *testing.T) {
	tn := newTestNet(t)
	const port = 40123
	addr, proto := fullAddr(remote4)
	connect := func() (tcpip.Endpoint, *waiter.Queue) {
		var wq waiter.Queue
		ep, terr := tn.client.NewEndpoint(tcp.ProtocolNumber, proto, &wq)
		if terr != nil {
			t.Fatalf("client endpoint: %v", terr)
		}
		t.Cleanup(ep.Close)
		ep.SocketOptions().SetReuseAddress(true)
		if terr := ep.Bind(tcpip.FullAddress{Port: port}); terr != nil {
			t.Fatalf("client bind to port %d: %v", port, terr)
		}
		if terr := ep.Connect(addr); terr != nil {
			if _, ok := terr.(*tcpip.ErrConnectStarted); !ok {
				t.Fatalf("client connect: %v", terr)
			}
		}
		return ep, &wq
	}
	ep, wq := connect()
	server, err := tn.tcpRequest(t).Accept()
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	// The server's side closes first; the client reads the end and closes.
	entry, hup := waiter.NewChannelEntry(waiter.ReadableEvents | waiter.EventHUp)
	wq.EventRegister(&entry)
	server.Close()
	select {
	case <-hup:
	case <-time.After(testTimeout):
		t.Fatal("the client did not see the server's FIN")
	}
	wq.EventUnregister(&entry)
	ep.Close()
	deadline := time.Now().Add(testTimeout)
	for tcp.EndpointState(ep.State()) != tcp.StateClose && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s := tcp.EndpointState(ep.State()); s != tcp.StateClose {
		t.Fatalf("client endpoint %v after closing; want CLOSED (no TIME-WAIT on its side)", s)
	}

	start := time.Now()
	connect()
	r := tn.tcpRequest(t) // fails after testTimeout
	defer r.Drop()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the SYN from the reused port reached the handler after %v; want at most a retransmission's wait", d)
	}
}

// TestOnReadEnd: the hook runs once, when a Read meets the command's FIN,
// not before (data still comes) and not again.
func TestOnReadEnd(t *testing.T) {
	tn := newTestNet(t)
	a := tn.connect(t, remote4)
	var calls atomic.Int32
	a.server.OnReadEnd(func() { calls.Add(1) })
	if _, err := a.client.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	within(t, "server Read", func() { io.ReadFull(a.server, make([]byte, 5)) })
	if n := calls.Load(); n != 0 {
		t.Fatalf("the hook ran %d times before the FIN", n)
	}
	a.client.CloseWrite()
	for range 2 {
		within(t, "server Read at EOF", func() { a.server.Read(make([]byte, 1)) })
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the hook ran %d times after the FIN and two Reads; want 1", n)
	}
}
