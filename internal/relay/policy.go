package relay

import (
	"errors"
	"net/netip"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/route"
)

// The policy's later stages: a router is asked again when a name appears
// in a flow (route.Flow describes it). The process behind a flow is found
// once, when the flow starts, while the command is still blocked in
// connect or has just sent.

// errDeniedSNI ends a flow whose ClientHello named a denied server.
var errDeniedSNI = errors.New("denied at the TLS ClientHello")

// tlsAlertAccessDenied is a fatal TLS alert record, access_denied (49):
// "a valid certificate or PSK was received, but when access control was
// applied, the sender decided not to proceed" (RFC 8446 §6.2). It goes
// out as TLS 1.2 (0x0303), as records do before a version is agreed.
var tlsAlertAccessDenied = []byte{21, 3, 3, 0, 2, 2, 49}

// lookup finds the process behind a new flow, when asked to.
func (f *Forwarder) lookup(proto event.Proto, src, dst netip.AddrPort) *event.Process {
	if f.cfg.Process == nil {
		return nil
	}
	return f.cfg.Process(proto, src, dst)
}

// routeFlow is what the router is told of fl at its start.
func routeFlow(fl *event.Flow) route.Flow {
	return route.Flow{ID: fl.ID, Proto: fl.Proto, Src: fl.Src, Dst: fl.Dst, Name: fl.Name, Process: fl.Process}
}

// deniedSNI asks the router again at the ClientHello; a Deny fails the
// command's handshake with an alert, before a byte of it goes upstream.
func (f *Forwarder) deniedSNI(fl *event.Flow, name, sni string, inner, outer Conn) bool {
	rf := routeFlow(fl)
	rf.Name, rf.SNI = name, sni
	if sni == "" || f.cfg.Router.Route(rf).Action != route.Deny {
		return false
	}
	inner.Write(tlsAlertAccessDenied)
	inner.Close()
	abort(outer)
	return true
}

// refuseUDP answers a denied UDP flow's first datagram as a firewall's
// reject does, when the netstack can.
func (f *Forwarder) refuseUDP(src, dst netip.AddrPort) {
	if f.cfg.RefuseUDP != nil {
		f.cfg.RefuseUDP(src, dst)
	}
}

// stamped is emit for a flow's dissectors: the HTTP exchanges and DNS
// queries they report carry the flow's process, set before the event is
// emitted.
func stamped(emit event.Handler, p *event.Process) event.Handler {
	if p == nil {
		return emit
	}
	return func(e event.Event) {
		switch e := e.(type) {
		case *event.HTTP:
			if e.Process == nil {
				e.Process = p
			}
		case *event.DNS:
			if e.Process == nil {
				e.Process = p
			}
		}
		emit(e)
	}
}
