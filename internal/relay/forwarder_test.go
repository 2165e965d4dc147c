package relay

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/route"
)

// fakeInbound records which of its methods the forwarder called. Accept
// returns the inner end of a loopback TCP pair whose other end, client,
// plays the command.
type fakeInbound struct {
	client    *net.TCPConn
	inner     *net.TCPConn
	acceptErr error

	mu    sync.Mutex
	calls []string
}

func newTestInbound(tb testing.TB) *fakeInbound {
	tb.Helper()
	client, inner := newTCPPair(tb)
	client.SetDeadline(time.Now().Add(testTimeout))
	return &fakeInbound{client: client, inner: inner}
}

func (in *fakeInbound) record(m string) {
	in.mu.Lock()
	in.calls = append(in.calls, m)
	in.mu.Unlock()
}

func (in *fakeInbound) Accept() (Conn, error) {
	in.record("Accept")
	if in.acceptErr != nil {
		return nil, in.acceptErr
	}
	return in.inner, nil
}
func (in *fakeInbound) Reset()           { in.record("Reset") }
func (in *fakeInbound) Unreachable(bool) { in.record("Unreachable") }
func (in *fakeInbound) Drop()            { in.record("Drop") }

func (in *fakeInbound) called() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return strings.Join(in.calls, ",")
}

var (
	testSrc = netip.MustParseAddrPort("10.0.85.2:40000")
	testDst = netip.MustParseAddrPort("203.0.113.10:80")
)

// newTestForwarder returns a Forwarder whose events go to a recorder, and
// closes it at cleanup.
func newTestForwarder(tb testing.TB, cfg Config) (*Forwarder, *recorder) {
	tb.Helper()
	rec := newRecorder(tb)
	cfg.Events = rec.handle
	if cfg.Router == nil {
		cfg.Router = route.Direct
	}
	f := New(cfg)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		f.Close(ctx)
	})
	return f, rec
}

// mapTo routes every destination to the loopback address a.
func mapTo(a net.Addr) route.Router {
	var to netip.AddrPort
	switch a := a.(type) {
	case *net.TCPAddr:
		to = a.AddrPort()
	case *net.UDPAddr:
		to = a.AddrPort()
	}
	return route.Func(func(route.Flow) route.Decision {
		return route.Decision{Action: route.Forward, Dst: to}
	})
}

// failDial returns a Dial that fails with err without any traffic.
func failDial(err error) func(context.Context, string, string) (net.Conn, error) {
	return func(context.Context, string, string) (net.Conn, error) { return nil, err }
}

func dialErr(errno error) error {
	return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
}

func TestHandleTCPDialFailure(t *testing.T) {
	tests := []struct {
		name       string
		dial       func(context.Context, string, string) (net.Conn, error)
		dst        func(tb testing.TB) route.Router
		wantCall   string
		wantEnd    event.End
		wantErrSub string
	}{
		{name: "refused", dial: failDial(dialErr(syscall.ECONNREFUSED)), wantCall: "Reset", wantEnd: event.Refused, wantErrSub: "refused"},
		{name: "refused by a real closed port",
			dst:      func(tb testing.TB) route.Router { return mapTo(closedTCPPort(tb)) },
			wantCall: "Reset", wantEnd: event.Refused, wantErrSub: "refused"},
		{name: "network unreachable", dial: failDial(dialErr(syscall.ENETUNREACH)), wantCall: "Unreachable", wantEnd: event.Unreachable, wantErrSub: "unreachable"},
		{name: "host unreachable", dial: failDial(dialErr(syscall.EHOSTUNREACH)), wantCall: "Unreachable", wantEnd: event.Unreachable, wantErrSub: "no route to host"},
		{name: "connect timeout", dial: failDial(dialErr(syscall.ETIMEDOUT)), wantCall: "Drop", wantEnd: event.Timeout, wantErrSub: "timed out"},
		{name: "dial deadline", dial: failDial(&net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}), wantCall: "Drop", wantEnd: event.Timeout, wantErrSub: "timeout"},
		{name: "context deadline", dial: failDial(context.DeadlineExceeded), wantCall: "Drop", wantEnd: event.Timeout, wantErrSub: "deadline"},
		{name: "other error", dial: failDial(errors.New("boom")), wantCall: "Reset", wantEnd: event.Failed, wantErrSub: "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Dial: tt.dial}
			if tt.dst != nil {
				cfg.Router = tt.dst(t)
			}
			f, rec := newTestForwarder(t, cfg)
			in := newTestInbound(t)
			f.HandleTCP(testSrc, testDst, in)

			if got := in.called(); got != tt.wantCall {
				t.Errorf("HandleTCP(dial error) called %q on the inbound; want %q", got, tt.wantCall)
			}
			fl := rec.flow(t)
			if fl.End != tt.wantEnd || !strings.Contains(fl.Err, tt.wantErrSub) {
				t.Errorf("flow End, Err = %q, %q; want %q, containing %q", fl.End, fl.Err, tt.wantEnd, tt.wantErrSub)
			}
			if fl.Proto != event.TCP || fl.Src != testSrc || fl.Dst != testDst || !fl.Upstream.IsValid() || fl.Up != 0 || fl.Down != 0 {
				t.Errorf("flow = %+v; want tcp %v -> %v with an upstream and no bytes", fl, testSrc, testDst)
			}
			assertDrained(t, f)
		})
	}
}

// assertDrained checks that the forwarder counts no open TCP flow: Drain
// returns on its own, before its context ends.
func assertDrained(tb testing.TB, f *Forwarder) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	f.Drain(ctx)
	if ctx.Err() != nil {
		tb.Errorf("Drain waited until its context ended; want no open TCP flow")
	}
}

func TestHandleTCPRelays(t *testing.T) {
	echo := newTCPEcho(t)
	d := newFakeDissector()
	f, events := newTestForwarder(t, Config{
		Router: mapTo(echo),
		Name: func(a netip.Addr) string {
			if a == testDst.Addr() {
				return "www.lab.test"
			}
			return ""
		},
		Dissect: d.stream,
	})
	in := newTestInbound(t)
	done := start(func() { f.HandleTCP(testSrc, testDst, in) })

	msg := "hello through the relay"
	if err := <-sendAll(in.client, []byte(msg)); err != nil {
		t.Fatalf("client send: %v", err)
	}
	got, err := io.ReadAll(in.client)
	if err != nil || string(got) != msg {
		t.Fatalf("client ReadAll = %q, %v; want the echo %q", got, err, msg)
	}
	await(t, done, "HandleTCP")

	if got := in.called(); got != "Accept" {
		t.Errorf("inbound calls = %q; want %q", got, "Accept")
	}
	fl := events.flow(t)
	n := int64(len(msg))
	want := event.Flow{ID: fl.ID, Proto: event.TCP, Src: testSrc, Dst: testDst, Upstream: echo.AddrPort(),
		Name: "www.lab.test", Up: n, Down: n, Start: fl.Start, Ended: fl.Ended, End: event.Closed}
	if *fl != want {
		t.Errorf("flow = %+v; want %+v", *fl, want)
	}
	if fl.Start.IsZero() || fl.Ended.Before(fl.Start) {
		t.Errorf("flow Start, Ended = %v, %v; want Start set and Ended after it", fl.Start, fl.Ended)
	}
	// The dissector saw the flow's bytes and metadata, and was closed
	// before HandleTCP returned.
	meta, first, closed := d.state()
	if meta.FlowID != fl.ID || meta.Proto != event.TCP || meta.Src != testSrc || meta.Dst != testDst || meta.Name != "www.lab.test" {
		t.Errorf("dissector meta = %+v; want flow %d tcp %v -> %v named www.lab.test", meta, fl.ID, testSrc, testDst)
	}
	if !strings.HasPrefix(msg, string(first)) || len(first) == 0 {
		t.Errorf("dissector first bytes = %q; want a prefix of %q", first, msg)
	}
	for _, dir := range []Direction{Up, Down} {
		if got := d.seen(dir); got != msg {
			t.Errorf("dissector saw %v %q; want %q", dir, got, msg)
		}
	}
	if !closed {
		t.Errorf("dissector not closed when HandleTCP returned")
	}
	assertDrained(t, f)
}

// newTCPBanner starts a loopback TCP server that speaks first (as SMTP or
// SSH do): it sends banner, then echoes until EOF.
func newTCPBanner(tb testing.TB, banner string) *net.TCPAddr {
	tb.Helper()
	ln, err := net.ListenTCP("tcp", loopback4)
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.AcceptTCP()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(testTimeout))
		c.Write([]byte(banner))
		io.Copy(c, c)
		c.CloseWrite()
	}()
	tb.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().(*net.TCPAddr)
}

func TestHandleTCPServerSpeaksFirst(t *testing.T) {
	const banner = "220 mail.lab.test ESMTP\r\n"
	d := newFakeDissector()
	f, rec := newTestForwarder(t, Config{Router: mapTo(newTCPBanner(t, banner)), Dissect: d.stream})
	in := newTestInbound(t)
	done := start(func() { f.HandleTCP(testSrc, testDst, in) })

	// The client waits for the banner before it says anything.
	got := make([]byte, len(banner))
	if _, err := io.ReadFull(in.client, got); err != nil || string(got) != banner {
		t.Fatalf("client read banner = %q, %v; want %q", got, err, banner)
	}
	if err := <-sendAll(in.client, []byte("QUIT\r\n")); err != nil {
		t.Fatalf("client send: %v", err)
	}
	rest, err := io.ReadAll(in.client)
	if err != nil || string(rest) != "QUIT\r\n" {
		t.Errorf("client ReadAll = %q, %v; want the echo %q", rest, err, "QUIT\r\n")
	}
	await(t, done, "HandleTCP")
	fl := rec.flow(t)
	if fl.End != event.Closed || fl.Up != 6 || fl.Down != int64(len(banner))+6 {
		t.Errorf("flow End, Up, Down = %q, %d, %d; want %q, 6, %d", fl.End, fl.Up, fl.Down, event.Closed, len(banner)+6)
	}
}

func TestHandleTCPClientClosesAtOnce(t *testing.T) {
	f, rec := newTestForwarder(t, Config{Router: mapTo(newTCPEcho(t))})
	in := newTestInbound(t)
	done := start(func() { f.HandleTCP(testSrc, testDst, in) })
	in.client.CloseWrite()
	if got, err := io.ReadAll(in.client); len(got) != 0 || err != nil {
		t.Errorf("client ReadAll = %q, %v; want EOF at once", got, err)
	}
	await(t, done, "HandleTCP")
	if fl := rec.flow(t); fl.End != event.Closed || fl.Up != 0 || fl.Down != 0 {
		t.Errorf("flow End, Up, Down = %q, %d, %d; want %q, 0, 0", fl.End, fl.Up, fl.Down, event.Closed)
	}
}

func TestHandleTCPNamesFlowBySNI(t *testing.T) {
	// Without interception, a TLS flow is relayed untouched; a flow whose
	// address has no DNS name takes the ClientHello's server name.
	f, rec := newTestForwarder(t, Config{Router: mapTo(newTCPEcho(t))})
	in := newTestInbound(t)
	done := start(func() { f.HandleTCP(testSrc, testDst, in) })
	hello := make(chan error, 1)
	go func() {
		// The echo server answers the ClientHello with itself, which the
		// client rejects: only the hello matters here.
		c := tls.Client(in.client, &tls.Config{ServerName: "sni.lab.test"})
		hello <- c.Handshake()
		in.client.Close()
	}()
	if err := <-hello; err == nil {
		t.Errorf("handshake against an echo server succeeded")
	}
	await(t, done, "HandleTCP")
	if fl := rec.flow(t); fl.Name != "sni.lab.test" || fl.Up == 0 || fl.Up != fl.Down {
		t.Errorf("flow Name, Up, Down = %q, %d, %d; want %q and the hello echoed whole", fl.Name, fl.Up, fl.Down, "sni.lab.test")
	}
}

func TestHandleTCPDeny(t *testing.T) {
	dialed := false
	f, rec := newTestForwarder(t, Config{
		Router: route.Func(func(route.Flow) route.Decision { return route.Decision{Action: route.Deny} }),
		Dial: func(context.Context, string, string) (net.Conn, error) {
			dialed = true
			return nil, errors.New("dialed")
		},
	})
	in := newTestInbound(t)
	f.HandleTCP(testSrc, testDst, in)
	if got := in.called(); got != "Reset" {
		t.Errorf("inbound calls = %q; want %q", got, "Reset")
	}
	if dialed {
		t.Errorf("a denied flow was dialed")
	}
	if fl := rec.flow(t); fl.End != event.Denied || fl.Upstream.IsValid() {
		t.Errorf("flow End, Upstream = %q, %v; want %q and none", fl.End, fl.Upstream, event.Denied)
	}
}

// fakeService serves local flows by echoing one line, and keeps the conns
// it was given.
type fakeService struct {
	mu    sync.Mutex
	conns []net.Conn
	ctxs  []context.Context
}

func (s *fakeService) keep(ctx context.Context, c net.Conn) {
	s.mu.Lock()
	s.conns = append(s.conns, c)
	s.ctxs = append(s.ctxs, ctx)
	s.mu.Unlock()
}

func (s *fakeService) ServeTCP(ctx context.Context, c net.Conn) {
	defer c.Close()
	s.keep(ctx, c)
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil {
		return
	}
	c.Write(append([]byte("local:"), buf[:n]...))
}

func (s *fakeService) ServeUDP(ctx context.Context, c net.Conn) {
	defer c.Close()
	s.keep(ctx, c)
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil {
		return
	}
	c.Write(append([]byte("local:"), buf[:n]...))
}

func (s *fakeService) served() []net.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]net.Conn(nil), s.conns...)
}

var toLocalDNS = route.Func(func(route.Flow) route.Decision {
	return route.Decision{Action: route.Local, Service: route.DNS}
})

func TestHandleTCPLocal(t *testing.T) {
	svc := &fakeService{}
	f, _ := newTestForwarder(t, Config{
		Router:   toLocalDNS,
		Services: map[route.Service]Service{route.DNS: svc},
		Dial:     failDial(errors.New("a local flow must not be dialed")),
	})
	in := newTestInbound(t)
	done := start(func() { f.HandleTCP(testSrc, netip.MustParseAddrPort("10.0.85.1:53"), in) })
	in.client.Write([]byte("q"))
	got, err := io.ReadAll(in.client)
	if string(got) != "local:q" || err != nil {
		t.Errorf("client ReadAll = %q, %v; want %q, nil", got, err, "local:q")
	}
	await(t, done, "HandleTCP")
	if got := in.called(); got != "Accept" {
		t.Errorf("inbound calls = %q; want %q", got, "Accept")
	}
	conns := svc.served()
	if len(conns) != 1 {
		t.Fatalf("service got %d conns; want 1", len(conns))
	}
	if got, want := conns[0].LocalAddr().String(), in.inner.LocalAddr().String(); got != want {
		t.Errorf("service conn LocalAddr() = %s; want %s", got, want)
	}
	if got, want := conns[0].RemoteAddr().String(), in.inner.RemoteAddr().String(); got != want {
		t.Errorf("service conn RemoteAddr() = %s; want %s", got, want)
	}
	assertDrained(t, f)
}

func TestHandleTCPLocalWithoutService(t *testing.T) {
	f, _ := newTestForwarder(t, Config{Router: toLocalDNS})
	in := newTestInbound(t)
	f.HandleTCP(testSrc, testDst, in)
	if got := in.called(); got != "Reset" {
		t.Errorf("inbound calls = %q; want %q", got, "Reset")
	}
}

func TestHandleTCPAcceptFails(t *testing.T) {
	// The upstream leg is dialed first; when the command is gone by then,
	// the upstream leg must be closed, not leaked.
	upstream, server := newTCPPair(t)
	server.SetDeadline(time.Now().Add(testTimeout))
	f, rec := newTestForwarder(t, Config{
		Dial: func(context.Context, string, string) (net.Conn, error) { return upstream, nil },
	})
	in := newTestInbound(t)
	in.acceptErr = syscall.ECONNRESET
	f.HandleTCP(testSrc, testDst, in)
	if fl := rec.flow(t); fl.End != event.Reset {
		t.Errorf("flow End = %q; want %q", fl.End, event.Reset)
	}
	if n, err := server.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("upstream server Read = %d, %v; want EOF (upstream leg closed)", n, err)
	}
}

func TestHandleTCPUpstreamCannotHalfClose(t *testing.T) {
	up, far := net.Pipe()
	t.Cleanup(func() { up.Close(); far.Close() })
	f, rec := newTestForwarder(t, Config{
		Dial: func(context.Context, string, string) (net.Conn, error) { return up, nil },
	})
	in := newTestInbound(t)
	f.HandleTCP(testSrc, testDst, in)
	if fl := rec.flow(t); fl.End != event.Failed || fl.Err == "" {
		t.Errorf("flow End, Err = %q, %q; want %q with an error", fl.End, fl.Err, event.Failed)
	}
	if _, err := far.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("far end of upstream Read: err = %v; want EOF (closed)", err)
	}
	if _, err := in.client.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("client Read: err = %v; want EOF (inner leg closed)", err)
	}
}

// openTCPFlow starts HandleTCP through an echo server and waits until
// bytes flow both ways.
func openTCPFlow(tb testing.TB, f *Forwarder, in *fakeInbound) <-chan struct{} {
	tb.Helper()
	done := start(func() { f.HandleTCP(testSrc, testDst, in) })
	if _, err := in.client.Write([]byte("x")); err != nil {
		tb.Fatalf("client write: %v", err)
	}
	if _, err := io.ReadFull(in.client, make([]byte, 1)); err != nil {
		tb.Fatalf("client read echo: %v", err)
	}
	return done
}

func TestDrainWaitsForTCPFlows(t *testing.T) {
	f, rec := newTestForwarder(t, Config{Router: mapTo(newTCPEcho(t))})
	in := newTestInbound(t)
	flowDone := openTCPFlow(t, f, in)

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	drained := start(func() { f.Drain(ctx) })
	select {
	case <-drained:
		t.Fatalf("Drain returned while a TCP flow was open")
	case <-time.After(100 * time.Millisecond):
	}
	in.client.CloseWrite()
	io.Copy(io.Discard, in.client)
	await(t, flowDone, "HandleTCP")
	await(t, drained, "Drain")
	if ctx.Err() != nil {
		t.Errorf("Drain returned only when its context ended")
	}
	if fl := rec.flow(t); fl.End != event.Closed {
		t.Errorf("flow End = %q; want %q", fl.End, event.Closed)
	}
}

func TestDrainStopsAtContext(t *testing.T) {
	f, _ := newTestForwarder(t, Config{Router: mapTo(newTCPEcho(t))})
	in := newTestInbound(t)
	openTCPFlow(t, f, in)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	await(t, start(func() { f.Drain(ctx) }), "Drain with an expiring context")
}

func TestCloseAbortsTCPFlows(t *testing.T) {
	f, rec := newTestForwarder(t, Config{Router: mapTo(newTCPEcho(t))})
	in := newTestInbound(t)
	flowDone := openTCPFlow(t, f, in)

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	await(t, start(func() { f.Close(ctx) }), "Close")
	if ctx.Err() != nil {
		t.Errorf("Close returned only when its context ended")
	}
	await(t, flowDone, "HandleTCP")
	if fl := rec.flow(t); fl.End != event.Aborted || fl.Up != 1 || fl.Down != 1 {
		t.Errorf("flow End, Up, Down = %q, %d, %d; want %q, 1, 1", fl.End, fl.Up, fl.Down, event.Aborted)
	}
	if _, err := in.client.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("client Read after Close: err = %v; want ECONNRESET", err)
	}
}

func TestDialEnd(t *testing.T) {
	tests := []struct {
		err  error
		want event.End
	}{
		{dialErr(syscall.ECONNREFUSED), event.Refused},
		{dialErr(syscall.ENETUNREACH), event.Unreachable},
		{dialErr(syscall.EHOSTUNREACH), event.Unreachable},
		{dialErr(syscall.EADDRNOTAVAIL), event.Unreachable},
		{dialErr(syscall.ETIMEDOUT), event.Timeout},
		{&net.OpError{Op: "dial", Err: os.ErrDeadlineExceeded}, event.Timeout},
		{context.DeadlineExceeded, event.Timeout},
		{errors.New("other"), event.Failed},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			if got := dialEnd(tt.err); got != tt.want {
				t.Errorf("dialEnd(%v) = %q; want %q", tt.err, got, tt.want)
			}
		})
	}
}
