package relay

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync/atomic"

	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/dissect/tlshello"
	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/internal/httpact"
	"github.com/htapod/htapod/internal/pick"
	"github.com/htapod/htapod/internal/tlsmitm"
	"github.com/htapod/htapod/respond"
	"github.com/htapod/htapod/route"
)

// Act says that htapod acts on the HTTP requests of a flow (see
// Config.HTTP): it speaks HTTP on the command's leg and puts each request
// to Decide. A flow of any other protocol is relayed as usual.
type Act struct {
	// Decide is asked per request; required.
	Decide respond.Decider
	// Offline serves the flow with no upstream at all: nothing is dialled,
	// htapod is the TLS server (with a leaf minted for the SNI), and
	// requests that Decide forwards get a 502.
	Offline bool
	// Fallback serves the flow offline when the dial fails, instead of
	// failing it as the destination did.
	Fallback bool
	// HTTP2 says whether an offline flow to the server name offers h2 (as
	// the recorded server did); nil means it does.
	HTTP2 func(sni string) bool
	// HostOnly says that Decide only judges requests by their head and
	// answers or forwards them unchanged (an egress policy's check of each
	// Host): a plaintext HTTP/1 flow is then relayed through an
	// httpact.Gate, without htapod's HTTP server.
	HostOnly bool
}

// errOffline is dial's answer for an offline flow.
var errOffline = errors.New("offline: nothing is dialled")

// actFor asks Config.HTTP about a relayed flow.
func (f *Forwarder) actFor(fl *event.Flow, d route.Decision) *Act {
	if f.cfg.HTTP == nil || d.Action == route.Passthrough {
		return nil
	}
	// The flow as the command asked for it (its id, destination and
	// process): a policy judges the Host against that, not the rewrite.
	return f.cfg.HTTP(routeFlow(fl))
}

// dial opens the upstream leg of a flow, or none (errOffline) when act
// is offline.
func (f *Forwarder) dial(fl *event.Flow, dst netip.AddrPort, act *Act) (net.Conn, error) {
	if act != nil && act.Offline {
		return nil, errOffline
	}
	fl.Upstream = dst
	return f.cfg.Dial(f.ctx, "tcp", dst.String())
}

// serveOffline says whether a flow whose dial failed with err is served
// with no upstream: always when offline, on any failure with Fallback
// (unless htapod is closing).
func (a *Act) serveOffline(ctx context.Context, err error) bool {
	return a != nil && (errors.Is(err, errOffline) || (a.Fallback && ctx.Err() == nil))
}

// serveOffline accepts the command's connection and serves it with no
// upstream: TLS is terminated with a minted leaf, then HTTP is served.
func (f *Forwarder) serveOffline(fl *event.Flow, in Inbound, act *Act) {
	inner, err := in.Accept()
	if err != nil {
		f.finish(fl, event.Reset, err)
		return
	}
	f.setEnd(fl.ID, func() { abort(inner) })
	f.cfg.Events(&event.FlowOpen{ID: fl.ID, Proto: event.TCP, Src: fl.Src, Dst: fl.Dst, Name: fl.Name, Time: time.Now()})
	meta := dissect.Meta{FlowID: fl.ID, Proto: event.TCP, Src: fl.Src, Dst: fl.Dst, Name: fl.Name, Start: fl.Start}
	end, err := f.offline(fl, meta, inner, act)
	if f.ctx.Err() != nil && end != event.Closed {
		end, err = event.Aborted, nil
	}
	if s, ok := inner.(segmenter); ok {
		in, out := s.Segments()
		fl.PacketsUp, fl.PacketsDown = int64(in), int64(out)
	}
	f.finish(fl, end, err)
}

func (f *Forwarder) offline(fl *event.Flow, meta dissect.Meta, inner Conn, act *Act) (event.End, error) {
	b, err := readSome(inner, nil)
	if len(b) == 0 {
		inner.Close()
		return event.Closed, nil
	}
	if err != nil {
		inner = &primed{Conn: inner, err: err} // the client's end, after what it sent
	}
	if pick.IsTLS(b) {
		if f.cfg.TLS == nil {
			abort(inner)
			return event.Failed, errors.New("offline TLS flow without an interceptor")
		}
		hello, buf, err := pick.ReadHello(inner, b)
		if err != nil {
			abort(inner)
			return event.Failed, err
		}
		if hello.SNI != "" && fl.Name == "" {
			fl.Name, meta.Name = hello.SNI, hello.SNI
		}
		protos := []string{"http/1.1"}
		if act.HTTP2 == nil || act.HTTP2(hello.SNI) {
			protos = []string{"h2", "http/1.1"}
		}
		ev := tlshello.Event(meta, hello, time.Now())
		c, err := f.cfg.TLS.Serve(f.ctx, netConn{&primed{Conn: inner, b: buf}}, hello.SNI, fl.Dst, protos)
		if err != nil {
			ev.Err = err.Error()
			f.cfg.Events(ev)
			inner.Close()
			return event.Failed, err
		}
		cs := c.ConnectionState()
		ev.Intercepted, ev.Version, ev.ALPN = true, tlsVersion(cs.Version), cs.NegotiatedProtocol
		f.cfg.Events(ev)
		meta.TLS, meta.ALPN = true, cs.NegotiatedProtocol
		inner, b = tlsLeg{c, inner}, nil
	}
	return f.actOn(fl, meta, inner, nil, b, act)
}

// actOn serves HTTP on inner when the flow's plaintext is HTTP, and pipes
// it otherwise. pending are the client's bytes read so far. outer nil
// means there is no upstream.
func (f *Forwarder) actOn(fl *event.Flow, meta dissect.Meta, inner, outer Conn, pending []byte, act *Act) (event.End, error) {
	if meta.ALPN != "h2" && meta.ALPN != "http/1.1" && (len(pending) == 0 || httpact.Undecided(pending)) {
		b, err := readSome(inner, pending)
		if err != nil && len(b) == 0 {
			abort(inner)
			if outer != nil {
				abort(outer)
			}
			return event.Reset, err
		}
		pending = b
	}
	if !httpact.Looks(pending, meta.ALPN) && meta.ALPN != "http/1.1" {
		if outer == nil {
			abort(inner)
			return event.Failed, errors.New("no upstream for a flow that is not HTTP")
		}
		return f.pipe(fl, meta, inner, outer, pending, false, nil)
	}
	if act.HostOnly && outer != nil && !meta.TLS && meta.ALPN == "" && !pick.H2Prior(pending) {
		return f.gate(fl, meta, inner, outer, pending, act)
	}
	return f.serveHTTP(fl, meta, &primed{Conn: inner, b: pending}, outer, pending, act)
}

// actAfterServer goes on with a flow whose server spoke first with HTTP/2
// SETTINGS (an h2c server does not wait for the client's preface): it
// waits for the client's first bytes, acts when they are HTTP, and
// relays the flow otherwise. The server's bytes reach the command either
// way, after its own first bytes were read.
func (f *Forwarder) actAfterServer(fl *event.Flow, meta dissect.Meta, op opening, act *Act) (event.End, error) {
	b, err := readSome(op.inner, nil)
	if err != nil && len(b) == 0 && err != io.EOF {
		abort(op.inner)
		abort(op.outer)
		return event.Reset, err
	}
	if httpact.Looks(b, meta.ALPN) {
		inner := op.inner
		if err != nil {
			inner = &primed{Conn: op.inner, err: err}
		}
		return f.actOn(fl, meta, inner, &primed{Conn: op.outer, b: op.b}, b, act)
	}
	return f.pipe(fl, meta, &primed{Conn: op.inner, b: b, err: err}, op.outer, op.b, true, nil)
}

// readSome reads from c until b tells whether it is HTTP (or holds 64
// bytes, or c ends).
func readSome(c Conn, b []byte) ([]byte, error) {
	buf := make([]byte, 4<<10)
	for len(b) == 0 || (httpact.Undecided(b) && len(b) < 64) {
		n, err := c.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

// serveHTTP speaks HTTP on inner with the flow's dissectors fed what the
// command sent and received, each exchange labelled with its action.
func (f *Forwarder) serveHTTP(fl *event.Flow, meta dissect.Meta, inner, outer Conn, first []byte, act *Act) (event.End, error) {
	marks := httpact.NewMarks()
	feeders := f.feedersFor(fl, meta, first, nil, marks.Wrap(stamped(f.cfg.Events, fl.Process)))
	client := &teeConn{Conn: netConn{inner}, tee: feeders.tee(), fl: fl}
	cfg := httpact.Config{Decide: act.Decide, TLS: meta.TLS, ALPN: meta.ALPN, H2C: pick.H2Prior(first), Host: hostOf(meta),
		Abort: func() { client.aborted.Store(true); abort(inner) }, Marks: marks}
	if outer != nil {
		cfg.Upstream = netConn{outer}
	}
	err := httpact.Serve(f.ctx, client, cfg)
	end := event.Closed
	if client.aborted.Load() {
		end = event.Reset
	}
	inner.Close()
	if outer != nil {
		outer.Close()
	}
	feeders.close()
	return end, err
}

func hostOf(meta dissect.Meta) string {
	if meta.Name != "" {
		return meta.Name
	}
	if meta.Dst.Addr().Is6() {
		return "[" + meta.Dst.Addr().String() + "]"
	}
	return meta.Dst.Addr().String()
}

// teeConn is the command's leg of an acted-on flow: what it reads was
// sent by the command (Up), what is written to it the command receives
// (Down); the tee and the flow's counts see both.
type teeConn struct {
	net.Conn
	tee     Tee
	fl      *event.Flow
	aborted atomic.Bool
}

func (c *teeConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		if c.tee != nil {
			c.tee(Up, b[:n])
		}
		c.fl.Up += int64(n)
	}
	return n, err
}

func (c *teeConn) Write(b []byte) (int, error) {
	if c.tee != nil {
		c.tee(Down, b)
	}
	n, err := c.Conn.Write(b)
	c.fl.Down += int64(n)
	return n, err
}

// tlsVersion names a TLS version as the interceptor does.
var tlsVersion = tlsmitm.VersionName

// actOnTLS acts on the plaintext of an intercepted flow. Without an HTTP
// ALPN the plaintext may be any protocol, one whose server speaks first
// among them (IMAPS, SMTPS): who speaks first decides, as for plain flows.
func (f *Forwarder) actOnTLS(fl *event.Flow, meta dissect.Meta, inner, outer Conn, act *Act) (event.End, error) {
	if meta.ALPN == "h2" || meta.ALPN == "http/1.1" {
		return f.actOn(fl, meta, inner, outer, nil, act)
	}
	op, err := firstBytes(inner, outer)
	if err != nil {
		abort(inner)
		abort(outer)
		return event.Reset, err
	}
	if op.serverFirst {
		return f.pipe(fl, meta, op.inner, op.outer, op.b, true, nil)
	}
	return f.actOn(fl, meta, op.inner, op.outer, op.b, act)
}

// LocalAddr is the destination the command connected to.
func (c *teeConn) LocalAddr() net.Addr { return net.TCPAddrFromAddrPort(c.fl.Dst) }

// RemoteAddr is the command's address.
func (c *teeConn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.fl.Src) }

// CloseWrite half-closes the command's leg (after an upgrade, when the
// server ended its side).
func (c *teeConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
