package relay

import (
	"crypto/tls"
	"errors"
	"io"
	"net/netip"
	"syscall"
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/dissect/tlshello"
	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/internal/pick"
	"github.com/htapod/htapod/internal/tlsmitm"
	"github.com/htapod/htapod/route"
)

// HandleTCP decides and relays one TCP connection from src to dst. It
// returns when the flow has ended.
func (f *Forwarder) HandleTCP(src, dst netip.AddrPort, in Inbound) {
	fl, d, ok := f.decide(event.TCP, src, dst, in.Reset, func(fl *event.Flow, svc Service) {
		c, err := in.Accept()
		if err != nil {
			return
		}
		untrack := f.track(fl.ID, event.TCP, func() { c.Close() })
		defer untrack()
		svc.ServeTCP(f.ctx, netConn{c})
	})
	if !ok {
		return
	}
	act := f.actFor(fl, d)
	untrack := f.track(fl.ID, event.TCP, func() {}) // counted while dialing too
	defer untrack()
	up, err := f.dial(fl, d.Dst, act)
	if err != nil && act.serveOffline(f.ctx, err) {
		f.serveOffline(fl, in, act)
		return
	}
	if err != nil {
		f.dialFailed(fl, in, err)
		return
	}
	inner, err := in.Accept()
	if err != nil {
		// The command gave up (or reset) while we were dialing.
		up.Close()
		f.finish(fl, event.Reset, err)
		return
	}
	if r, ok := inner.(readEnder); ok && f.cfg.Released != nil {
		src, dst := fl.Src, fl.Dst
		r.OnReadEnd(func() { f.cfg.Released(src, dst) })
	}
	outer, ok := up.(Conn)
	if !ok {
		up.Close()
		inner.Close()
		f.finish(fl, event.Failed, errors.New("upstream conn cannot half-close"))
		return
	}
	f.setEnd(fl.ID, func() { abort(inner); abort(outer) })
	f.cfg.Events(&event.FlowOpen{ID: fl.ID, Proto: event.TCP, Src: fl.Src, Dst: fl.Dst, Upstream: fl.Upstream, Name: fl.Name, Time: time.Now(), Process: fl.Process})
	if f.ctx.Err() != nil {
		// Close ran while we dialed and may have missed the end set above.
		abort(inner)
		abort(outer)
	}
	end, err := f.relayTCP(fl, d.Action, inner, outer, act)
	if f.ctx.Err() != nil && end != event.Closed {
		end, err = event.Aborted, nil
	}
	if s, ok := inner.(segmenter); ok {
		in, out := s.Segments()
		fl.PacketsUp, fl.PacketsDown = int64(in), int64(out)
	}
	f.finish(fl, end, err)
}

// readEnder is a command's leg that says when the command has closed its
// side (netstack.TCPConn), for Config.Released.
type readEnder interface{ OnReadEnd(func()) }

// segmenter is a command's leg that counts its TCP segments each way
// (netstack.TCPConn): they become the flow's packet counts.
type segmenter interface{ Segments() (in, out uint64) }

// dialFailed answers the command as the failed dial of its flow says:
// refused → RST, unreachable → ICMP, timeout → silence.
func (f *Forwarder) dialFailed(fl *event.Flow, in Inbound, err error) {
	end := dialEnd(err)
	if f.ctx.Err() != nil {
		end, err = event.Aborted, nil // htapod is closing: Close cut the dial
	}
	switch end {
	case event.Refused:
		in.Reset()
	case event.Unreachable:
		in.Unreachable(!errors.Is(err, syscall.ENETUNREACH))
	case event.Timeout:
		in.Drop()
	default:
		in.Reset()
	}
	f.finish(fl, end, err)
}

// relayTCP looks at who speaks first and what, intercepts TLS when the
// action allows it, attaches dissectors, and pipes until the flow ends.
func (f *Forwarder) relayTCP(fl *event.Flow, action route.Action, inner, outer Conn, act *Act) (event.End, error) {
	meta := dissect.Meta{FlowID: fl.ID, Proto: event.TCP, Src: fl.Src, Dst: fl.Dst, Name: fl.Name, Start: fl.Start}
	if action == route.Passthrough {
		res := Pipe(inner, outer, nil)
		fl.Up, fl.Down = res.Up, res.Down
		return res.End, res.Err
	}
	op, err := firstBytes(inner, outer)
	if err != nil {
		abort(inner)
		abort(outer)
		return event.Reset, err
	}
	if act != nil && op.serverFirst && pick.H2Settings(op.b) {
		return f.actAfterServer(fl, meta, op, act)
	}
	var hello *tlshello.Hello // of a TLS flow relayed untouched
	if !op.serverFirst && pick.IsTLS(op.b) {
		h, buf, err := pick.ReadHello(op.inner, op.b)
		op.b = buf // relay everything read so far
		if err == nil && f.deniedSNI(fl, fl.Name, h.SNI, op.inner, op.outer) {
			return event.Denied, errDeniedSNI
		}
		if err == nil {
			if h.SNI != "" && fl.Name == "" {
				fl.Name, meta.Name = h.SNI, h.SNI
			}
			allowed := action == route.ForwardWithTLS && f.cfg.TLS != nil
			if pick.Intercept(allowed, h, f.cfg.Passthrough) {
				ev := tlshello.Event(meta, h, time.Now())
				offer := tlsmitm.Offer{SNI: ev.SNI, ALPN: ev.ALPNOffered, Groups: h.SupportedGroups}
				return f.intercept(fl, meta, ev, offer, &primed{Conn: op.inner, b: buf}, op.outer, act)
			}
			// The TLS dissector reports the hello and the version the
			// server picked.
			hello = h
		}
	}
	if act != nil && !op.serverFirst && hello == nil && !pick.IsTLS(op.b) {
		return f.actOn(fl, meta, op.inner, op.outer, op.b, act)
	}
	return f.pipe(fl, meta, op.inner, op.outer, op.b, op.serverFirst, hello)
}

// intercept terminates TLS on both legs and pipes the plaintext.
func (f *Forwarder) intercept(fl *event.Flow, meta dissect.Meta, ev *event.TLS, offer tlsmitm.Offer, inner, outer Conn, act *Act) (event.End, error) {
	sess, err := f.cfg.TLS.Intercept(f.ctx, netConn{inner}, netConn{outer}, offer, fl.Upstream)
	if err != nil {
		ev.Err = err.Error()
		var te *tlsmitm.Error
		if errors.As(err, &te) {
			ev.Alert, ev.Cert = te.Alert, te.Cert
		}
		f.cfg.Events(ev)
		inner.Close()
		outer.Close()
		return event.Failed, err
	}
	ev.Intercepted, ev.Version, ev.ALPN = true, tlsmitm.VersionName(sess.Version), sess.ALPN
	ev.CipherSuite, ev.Cert = tls.CipherSuiteName(sess.CipherSuite), sess.Cert
	f.cfg.Events(ev)
	meta.TLS, meta.ALPN = true, sess.ALPN
	if act != nil {
		return f.actOnTLS(fl, meta, tlsLeg{sess.Client, inner}, tlsLeg{sess.Server, outer}, act)
	}
	return f.pipe(fl, meta, tlsLeg{sess.Client, inner}, tlsLeg{sess.Server, outer}, nil, false, nil)
}

// pipe relays inner and outer with a dissector attached. pending are
// bytes already read from one side, to be written to the other first:
// from the server when serverFirst, else from the client. hello is the
// ClientHello of a TLS flow relayed untouched, nil otherwise.
func (f *Forwarder) pipe(fl *event.Flow, meta dissect.Meta, inner, outer Conn, pending []byte, serverFirst bool, hello *tlshello.Hello) (event.End, error) {
	first := pending
	if serverFirst {
		// HTTP/2 servers send SETTINGS at once: choose at the client's
		// first bytes, which come later.
		first = nil
	}
	feeders := f.feedersFor(fl, meta, first, hello, stamped(f.cfg.Events, fl.Process))
	tee := feeders.tee()
	if len(pending) > 0 {
		dst, dir := outer, Up
		if serverFirst {
			dst, dir = inner, Down
		}
		if tee != nil {
			tee(dir, pending)
		}
		if _, err := dst.Write(pending); err != nil {
			abort(inner)
			abort(outer)
			feeders.close()
			return event.Reset, err
		}
		if dir == Up {
			fl.Up += int64(len(pending))
		} else {
			fl.Down += int64(len(pending))
		}
	}
	res := Pipe(inner, outer, tee)
	fl.Up += res.Up
	fl.Down += res.Down
	feeders.close()
	return res.End, res.Err
}

// feedersFor makes a flow's dissector, chosen from its first bytes and
// hello (see pipe) with its events going to emit, and its sniffers, each
// fed on a goroutine of its own.
func (f *Forwarder) feedersFor(fl *event.Flow, meta dissect.Meta, first []byte, hello *tlshello.Hello, emit event.Handler) feeders {
	var fs feeders
	if f.cfg.Dissect != nil {
		if s, name := f.cfg.Dissect(meta, first, hello, dissect.Emit(emit)); s != nil {
			fs = append(fs, newFeeder(fl.ID, name, s, nil, emit))
		}
	}
	for _, sniff := range f.cfg.Sniffers {
		if s := sniff(meta); s != nil {
			fs = append(fs, newFeeder(fl.ID, "sniffer", s, nil, f.cfg.Events))
		}
	}
	return fs
}

// opening is what firstBytes saw: who spoke first, what they said, and
// the two legs to go on with (the one that did not speak may hold a read
// that was already under way, which it returns first).
type opening struct {
	b            []byte
	serverFirst  bool
	inner, outer Conn
}

// firstBytes waits until either side sends. A client that speaks first is
// classified by its bytes; a server that speaks first (SMTP, SSH, MySQL)
// is relayed at once, without waiting for the client.
func firstBytes(inner, outer Conn) (opening, error) {
	ic, oc := startRead(inner), startRead(outer)
	select {
	case r := <-ic:
		if len(r.b) == 0 && r.err != nil && r.err != io.EOF {
			return opening{}, r.err
		}
		// The client spoke (or half-closed). Stop the read under way on
		// the upstream leg; bytes it got meanwhile are kept.
		o := stopRead(outer, oc)
		in := Conn(inner)
		if r.err == io.EOF {
			in = &primed{Conn: inner, err: io.EOF}
		}
		return opening{b: r.b, inner: in, outer: &primed{Conn: outer, b: o.b, err: o.err}}, nil
	case r := <-oc:
		if len(r.b) == 0 && r.err != nil && r.err != io.EOF {
			return opening{}, r.err
		}
		out := Conn(outer)
		if r.err == io.EOF {
			out = &primed{Conn: outer, err: io.EOF}
		}
		return opening{b: r.b, serverFirst: len(r.b) > 0, inner: &primed{Conn: inner, ch: ic}, outer: out}, nil
	}
}
