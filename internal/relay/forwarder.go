package relay

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/internal/pick"
	"github.com/htapod/htapod/internal/tlsmitm"
	"github.com/htapod/htapod/route"
)

// Inbound is a TCP connection the command is opening, held at the SYN.
// Exactly one method is called, once.
type Inbound interface {
	// Accept completes the handshake and returns the command's leg.
	Accept() (Conn, error)
	// Reset answers with a RST (the command sees "connection refused").
	Reset()
	// Unreachable tells the command the destination cannot be reached:
	// the network, or (host) the address.
	Unreachable(host bool)
	// Drop leaves the SYN unanswered; the command times out by itself.
	Drop()
}

// Service handles flows that the router sends to one of htapod's own
// services (route.Local). It owns the conn and must close it.
type Service interface {
	ServeTCP(ctx context.Context, c net.Conn)
	ServeUDP(ctx context.Context, c net.Conn)
}

// Config of a Forwarder. Router is required; the rest may be zero.
type Config struct {
	Router route.Router
	// Dial opens upstream legs; nil uses a net.Dialer. It is the seam where
	// tests inject failures.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Services by name, for route.Local decisions.
	Services map[route.Service]Service
	// Events receives one event.Flow per finished flow; nil drops them.
	Events event.Handler
	// Name returns the DNS name the command used for an address, or "".
	Name func(netip.Addr) string
	// TLS intercepts TLS flows (any port); nil relays them untouched.
	TLS *tlsmitm.Interceptor
	// Passthrough says which TLS server names are relayed untouched even
	// when TLS is set (pinned clients); nil means none.
	Passthrough func(sni string) bool
	// Dissect picks the dissector of a TCP flow (see pick.StreamFunc); nil
	// or a nil result means none. DissectUDP does the same for UDP flows.
	Dissect    pick.StreamFunc
	DissectUDP func(meta dissect.Meta, emit dissect.Emit) (dissect.Datagrams, string)
	// Sniffers and SniffersUDP see every flow that is not Passthrough, each
	// on a queue of its own (see feeder): a nil result skips the flow.
	Sniffers    []func(meta dissect.Meta) dissect.Stream
	SniffersUDP []func(meta dissect.Meta) dissect.Datagrams
	// HTTP, when set, is asked once per TCP flow that is relayed (not
	// Passthrough, Deny or Local) whether htapod acts on its HTTP
	// requests; nil or a nil result keeps the flow a passive byte relay.
	// It is called concurrently and must not block.
	HTTP func(f route.Flow) *Act
	// UDPIdle and DNSIdle are the idle timeouts of UDP flows (DNSIdle for
	// port 53); zero means 60 s and 10 s.
	UDPIdle, DNSIdle time.Duration
	// MaxUDPFlows bounds the UDP table; zero means 4096. Datagrams of new
	// flows beyond it are dropped and reported once.
	MaxUDPFlows int
	Logger      *slog.Logger
	// Process finds the process behind a new flow (src is the box's side);
	// nil looks nothing up.
	Process func(proto event.Proto, src, dst netip.AddrPort) *event.Process
	// Released, when not nil, is told as soon as the command has closed
	// (or reset) its side of a TCP flow: the process finder then looks for
	// the command's next socket on that one's fd first (the kernel gives
	// the lowest free fd). A flow it did not find is ignored.
	Released func(src, dst netip.AddrPort)
	// RefuseUDP answers the first datagram of a denied UDP flow as a
	// firewall's reject (an ICMP port unreachable); nil drops it silently.
	RefuseUDP func(src, dst netip.AddrPort)
}

// Forwarder relays the flows of one run. Its methods are safe for
// concurrent use.
type Forwarder struct {
	cfg    Config
	ctx    context.Context
	cancel context.CancelFunc
	ids    atomic.Uint64

	mu      sync.Mutex
	active  map[uint64]func() // flows still open, with a function that ends each
	tcpOpen int               // TCP flows among them: what Drain waits for
	idle    *sync.Cond        // signalled when tcpOpen drops to zero
	udpOpen int
	udpFull bool
}

// New returns a Forwarder ready to take flows.
func New(cfg Config) *Forwarder {
	if cfg.Dial == nil {
		var d net.Dialer
		cfg.Dial = d.DialContext
	}
	if cfg.Events == nil {
		cfg.Events = func(event.Event) {}
	}
	if cfg.Name == nil {
		cfg.Name = func(netip.Addr) string { return "" }
	}
	if cfg.UDPIdle == 0 {
		cfg.UDPIdle = 60 * time.Second
	}
	if cfg.DNSIdle == 0 {
		cfg.DNSIdle = 10 * time.Second
	}
	if cfg.MaxUDPFlows == 0 {
		cfg.MaxUDPFlows = 4096
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &Forwarder{cfg: cfg, ctx: ctx, cancel: cancel, active: map[uint64]func(){}}
	f.idle = sync.NewCond(&f.mu)
	return f
}

func (f *Forwarder) newFlow(proto event.Proto, src, dst netip.AddrPort) *event.Flow {
	return &event.Flow{
		ID: f.ids.Add(1), Proto: proto, Src: src, Dst: dst,
		Name: f.cfg.Name(dst.Addr()), Start: time.Now(),
		Process: f.lookup(proto, src, dst),
	}
}

// track registers an open flow; end is how Close cuts it. The returned
// func unregisters it. TCP flows are waited for by Drain; UDP flows have
// no end of their own and are only cut.
func (f *Forwarder) track(id uint64, proto event.Proto, end func()) (untrack func()) {
	f.mu.Lock()
	f.active[id] = end
	if proto == event.TCP {
		f.tcpOpen++
	}
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		delete(f.active, id)
		if proto == event.TCP {
			f.tcpOpen--
		}
		f.idle.Broadcast()
		f.mu.Unlock()
	}
}

// setEnd replaces the function that ends a tracked flow.
func (f *Forwarder) setEnd(id uint64, end func()) {
	f.mu.Lock()
	if _, ok := f.active[id]; ok {
		f.active[id] = end
	}
	f.mu.Unlock()
}

// decide opens the record of a new flow and asks the router what to do
// with it. Deny and Local it carries out itself: refuse turns the command
// away (a RST, or closing a UDP flow), serve hands the flow to one of
// htapod's services. ok is false when it did, and the caller is done.
func (f *Forwarder) decide(proto event.Proto, src, dst netip.AddrPort, refuse func(), serve func(*event.Flow, Service)) (fl *event.Flow, d route.Decision, ok bool) {
	fl = f.newFlow(proto, src, dst)
	d = f.cfg.Router.Route(routeFlow(fl))
	switch d.Action {
	case route.Deny:
		refuse()
		f.finish(fl, event.Denied, nil)
		return nil, d, false
	case route.Local:
		if svc := f.cfg.Services[d.Service]; svc != nil {
			serve(fl, svc)
		} else {
			refuse()
		}
		return nil, d, false
	}
	return fl, d, true
}

func (f *Forwarder) finish(fl *event.Flow, end event.End, err error) {
	fl.Ended = time.Now()
	fl.End = end
	if err != nil {
		fl.Err = errText(err)
	}
	f.cfg.Events(fl)
}

// Drain waits until every open TCP flow has ended or ctx is done. Call it
// after the command exited, for a grace time in which its connections
// finish.
func (f *Forwarder) Drain(ctx context.Context) {
	f.waitUntil(ctx, func() bool { return f.tcpOpen == 0 })
}

// Close ends every flow still open (TCP flows are reported as aborted, UDP
// flows as closed) and waits until all are reported, at most until ctx is
// done.
func (f *Forwarder) Close(ctx context.Context) {
	f.cancel()
	f.mu.Lock()
	ends := make([]func(), 0, len(f.active))
	for _, end := range f.active {
		ends = append(ends, end)
	}
	f.mu.Unlock()
	for _, end := range ends {
		end()
	}
	f.waitUntil(ctx, func() bool { return len(f.active) == 0 })
}

// waitUntil waits until done, called with f.mu held, is true (each
// untrack re-checks it), or until ctx is done.
func (f *Forwarder) waitUntil(ctx context.Context, done func() bool) {
	stop := context.AfterFunc(ctx, func() {
		f.mu.Lock()
		f.idle.Broadcast()
		f.mu.Unlock()
	})
	defer stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	for !done() && ctx.Err() == nil {
		f.idle.Wait()
	}
}

// netConn gives a relay Conn the net.Conn methods a Service expects.
type netConn struct{ Conn }

func (c netConn) LocalAddr() net.Addr                { return addrOf(c.Conn, true) }
func (c netConn) RemoteAddr() net.Addr               { return addrOf(c.Conn, false) }
func (c netConn) SetDeadline(t time.Time) error      { return deadline(c.Conn, t, 0) }
func (c netConn) SetReadDeadline(t time.Time) error  { return deadline(c.Conn, t, 1) }
func (c netConn) SetWriteDeadline(t time.Time) error { return deadline(c.Conn, t, 2) }

func addrOf(c Conn, local bool) net.Addr {
	if nc, ok := c.(net.Conn); ok {
		if local {
			return nc.LocalAddr()
		}
		return nc.RemoteAddr()
	}
	return nil
}

func deadline(c Conn, t time.Time, which int) error {
	if rd, ok := c.(interface{ SetReadDeadline(time.Time) error }); ok && which == 1 {
		return rd.SetReadDeadline(t)
	}
	nc, ok := c.(net.Conn)
	if !ok {
		return errors.ErrUnsupported
	}
	switch which {
	case 1:
		return nc.SetReadDeadline(t)
	case 2:
		return nc.SetWriteDeadline(t)
	}
	return nc.SetDeadline(t)
}
