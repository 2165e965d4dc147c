package relay

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/internal/testnet"
	"github.com/htapod/htapod/route"
)

// udpFlow is one UDP flow under test: client plays the command, inner is
// the handler's side of it (a connected loopback UDP socket pair stands in
// for the netstack's UDP conn).
type udpFlow struct {
	client, inner *net.UDPConn
	done          <-chan struct{}
}

// startUDPFlow sends the first datagrams of a flow (they wait in inner, as
// in the netstack) and starts HandleUDP on it.
func startUDPFlow(tb testing.TB, f *Forwarder, dst netip.AddrPort, first ...string) *udpFlow {
	tb.Helper()
	client, inner := newUDPPair(tb)
	client.SetDeadline(time.Now().Add(testTimeout))
	for _, m := range first {
		if _, err := client.Write([]byte(m)); err != nil {
			tb.Fatalf("client write: %v", err)
		}
	}
	src := client.LocalAddr().(*net.UDPAddr).AddrPort()
	u := &udpFlow{client: client, inner: inner}
	u.done = start(func() { f.HandleUDP(src, dst, inner) })
	tb.Cleanup(func() { inner.Close(); <-u.done })
	return u
}

// roundTrip sends msg and waits for the same bytes to come back.
func (u *udpFlow) roundTrip(tb testing.TB, msg string) {
	tb.Helper()
	if _, err := u.client.Write([]byte(msg)); err != nil {
		tb.Fatalf("client write: %v", err)
	}
	u.expect(tb, msg)
}

func (u *udpFlow) expect(tb testing.TB, msg string) {
	tb.Helper()
	buf := make([]byte, 1500)
	n, err := u.client.Read(buf)
	if err != nil || string(buf[:n]) != msg {
		tb.Fatalf("client Read = %q, %v; want %q", buf[:n], err, msg)
	}
}

func TestHandleUDPRelaysUntilIdle(t *testing.T) {
	const idle = 200 * time.Millisecond
	echo := newUDPEcho(t)
	d := newFakeDissector()
	f, rec := newTestForwarder(t, Config{
		Router:     mapTo(echo),
		UDPIdle:    idle,
		DNSIdle:    time.Hour, // must not apply: the port is not 53
		DissectUDP: d.datagrams,
	})
	began := time.Now()
	u := startUDPFlow(t, f, testDst, "first")
	u.expect(t, "first")
	u.roundTrip(t, "second")
	u.roundTrip(t, "third!")
	await(t, u.done, "HandleUDP after the idle timeout")

	fl := rec.flow(t)
	want := event.Flow{ID: fl.ID, Proto: event.UDP, Src: fl.Src, Dst: testDst, Upstream: echo.AddrPort(),
		Up: 17, Down: 17, PacketsUp: 3, PacketsDown: 3, Start: fl.Start, Ended: fl.Ended, End: event.Idle}
	if *fl != want {
		t.Errorf("flow = %+v; want %+v", *fl, want)
	}
	if d := fl.Duration(); d < idle {
		t.Errorf("flow lasted %v; want at least the idle timeout %v", d, idle)
	}
	if d := time.Since(began); d > idle+5*time.Second {
		t.Errorf("flow ended %v after its start; want about the idle timeout %v", d, idle)
	}
	for _, dir := range []Direction{Up, Down} {
		if got, want := d.seen(dir), "firstsecondthird!"; got != want {
			t.Errorf("dissector saw %v %q; want %q", dir, got, want)
		}
	}
	if meta, _, closed := d.state(); meta.FlowID != fl.ID || meta.Proto != event.UDP || meta.Dst != testDst || !closed {
		t.Errorf("dissector meta = %+v, closed %v; want flow %d udp to %v, closed", meta, closed, fl.ID, testDst)
	}
	// The handler owns inner and closed it.
	if _, err := u.inner.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("inner Write after the flow ended: err = %v; want net.ErrClosed", err)
	}
}

func TestHandleUDPDNSIdle(t *testing.T) {
	// A flow to port 53 (mapped to the echo server) ends after DNSIdle,
	// not UDPIdle.
	f, rec := newTestForwarder(t, Config{
		Router:  mapTo(newUDPEcho(t)),
		UDPIdle: time.Hour,
		DNSIdle: 100 * time.Millisecond,
	})
	u := startUDPFlow(t, f, netip.MustParseAddrPort("198.51.100.53:53"), "q")
	u.expect(t, "q")
	await(t, u.done, "HandleUDP after the DNS idle timeout")
	if fl := rec.flow(t); fl.End != event.Idle {
		t.Errorf("flow End = %q; want %q", fl.End, event.Idle)
	}
}

func TestHandleUDPRefused(t *testing.T) {
	// Loopback answers a datagram to a closed port with ICMP port
	// unreachable; a flow that never got an answer ends as refused.
	f, rec := newTestForwarder(t, Config{Router: mapTo(closedUDPPort(t)), UDPIdle: 200 * time.Millisecond})
	u := startUDPFlow(t, f, testDst, "anyone?")
	await(t, u.done, "HandleUDP")
	if fl := rec.flow(t); fl.End != event.Refused || fl.PacketsUp != 1 || fl.PacketsDown != 0 {
		t.Errorf("flow End, PacketsUp, PacketsDown = %q, %d, %d; want %q, 1, 0", fl.End, fl.PacketsUp, fl.PacketsDown, event.Refused)
	}
}

func TestHandleUDPDialFailure(t *testing.T) {
	f, rec := newTestForwarder(t, Config{Dial: failDial(dialErr(syscall.ENETUNREACH))})
	u := startUDPFlow(t, f, testDst, "x")
	await(t, u.done, "HandleUDP")
	if fl := rec.flow(t); fl.End != event.Unreachable || fl.Err == "" {
		t.Errorf("flow End, Err = %q, %q; want %q with an error", fl.End, fl.Err, event.Unreachable)
	}
	if _, err := u.inner.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("inner Write: err = %v; want net.ErrClosed", err)
	}
}

func TestHandleUDPDeny(t *testing.T) {
	f, rec := newTestForwarder(t, Config{
		Router: route.Func(func(route.Flow) route.Decision { return route.Decision{Action: route.Deny} }),
		Dial:   failDial(errors.New("a denied flow must not be dialed")),
	})
	u := startUDPFlow(t, f, testDst, "x")
	await(t, u.done, "HandleUDP")
	if fl := rec.flow(t); fl.End != event.Denied {
		t.Errorf("flow End = %q; want %q", fl.End, event.Denied)
	}
	if _, err := u.inner.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("inner Write: err = %v; want net.ErrClosed", err)
	}
}

func TestHandleUDPLocal(t *testing.T) {
	svc := &fakeService{}
	f, _ := newTestForwarder(t, Config{
		Router:   toLocalDNS,
		Services: map[route.Service]Service{route.DNS: svc},
		Dial:     failDial(errors.New("a local flow must not be dialed")),
	})
	u := startUDPFlow(t, f, netip.MustParseAddrPort("10.0.85.1:53"), "q")
	u.expect(t, "local:q")
	await(t, u.done, "HandleUDP")
	if conns := svc.served(); len(conns) != 1 || conns[0] != net.Conn(u.inner) {
		t.Errorf("service got conns %v; want exactly the inner conn", conns)
	}
}

func TestHandleUDPMaxFlows(t *testing.T) {
	f, rec := newTestForwarder(t, Config{Router: mapTo(newUDPEcho(t)), MaxUDPFlows: 1, UDPIdle: time.Hour})
	first := startUDPFlow(t, f, testDst, "one")
	first.expect(t, "one") // admitted and relaying

	for i := range 3 {
		extra := startUDPFlow(t, f, testDst, "over")
		await(t, extra.done, "HandleUDP of a flow over the limit")
		if _, err := extra.inner.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Errorf("extra flow %d: inner Write: err = %v; want net.ErrClosed (dropped)", i, err)
		}
	}
	if n := rec.notices(); len(n) != 1 || n[0].Level != "warn" {
		t.Errorf("notices = %+v; want exactly one warning", n)
	}
	rec.noFlow(t)
	first.roundTrip(t, "still") // the admitted flow is unaffected

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	f.Close(ctx)
	if ctx.Err() != nil {
		t.Errorf("Close returned only when its context ended")
	}
	await(t, first.done, "HandleUDP after Close")
	if fl := rec.flow(t); fl.End != event.Closed || fl.PacketsUp != 2 {
		t.Errorf("flow End, PacketsUp = %q, %d; want %q, 2", fl.End, fl.PacketsUp, event.Closed)
	}
}

func TestDrainIgnoresUDPFlows(t *testing.T) {
	f, _ := newTestForwarder(t, Config{Router: mapTo(newUDPEcho(t)), UDPIdle: time.Hour})
	u := startUDPFlow(t, f, testDst, "x")
	u.expect(t, "x")
	assertDrained(t, f)
}

func TestHandleUDPIdleFlowHoldsNoBuffer(t *testing.T) {
	// Many flows that have passed a datagram each way and now wait: what
	// they keep on the heap must be a few KiB each, not a 64 KiB read
	// buffer per direction.
	const flows = 50 // within the recorder's 64 flow events
	const perFlow = 16 << 10
	f, _ := newTestForwarder(t, Config{Router: mapTo(newUDPEcho(t)), UDPIdle: time.Hour})
	before := testnet.HeapInUse()
	for range flows {
		u := startUDPFlow(t, f, testDst, "hello")
		u.expect(t, "hello")
	}
	grown := int64(testnet.HeapInUse()) - int64(before)
	t.Logf("%d idle UDP flows: heap +%d KiB", flows, grown>>10)
	if grown > flows*perFlow {
		t.Errorf("%d idle UDP flows grew the heap by %d KiB (%d KiB each); want at most %d KiB each",
			flows, grown>>10, grown/flows>>10, perFlow>>10)
	}
}

func TestHandleUDPWholeDatagrams(t *testing.T) {
	// The largest datagram loopback carries passes whole both ways, on a
	// DNS flow as on any other.
	tests := []struct {
		name string
		dst  netip.AddrPort
		size int
	}{
		{"largest", testDst, 65507},
		{"dns", netip.MustParseAddrPort("198.51.100.53:53"), 40 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, rec := newTestForwarder(t, Config{Router: mapTo(newUDPEcho(t)), UDPIdle: 100 * time.Millisecond, DNSIdle: 100 * time.Millisecond})
			msg := bytes.Repeat([]byte("0123456789abcdef"), tt.size/16+1)[:tt.size]
			u := startUDPFlow(t, f, tt.dst, string(msg))
			buf := make([]byte, 1<<16)
			n, err := u.client.Read(buf)
			if err != nil || !bytes.Equal(buf[:n], msg) {
				t.Fatalf("client Read = %d bytes, %v; want the %d bytes sent", n, err, len(msg))
			}
			await(t, u.done, "HandleUDP after the idle timeout")
			if fl := rec.flow(t); fl.Up != int64(tt.size) || fl.Down != int64(tt.size) {
				t.Errorf("flow Up, Down = %d, %d; want %d both", fl.Up, fl.Down, tt.size)
			}
		})
	}
}
