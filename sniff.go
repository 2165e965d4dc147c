package htapod

import (
	"errors"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/route"
)

// Namespaces says which namespaces the box gets.
type Namespaces uint

// Namespaces. The user and network namespaces are what make htapod work
// without root; the mount namespace is how the box gets its own
// resolv.conf and CA bundles.
const (
	UserNamespace Namespaces = 1 << iota
	NetworkNamespace
	MountNamespace
	UTSNamespace
	IPCNamespace

	// DefaultNamespaces are what htapod uses unless told otherwise.
	DefaultNamespaces = UserNamespace | NetworkNamespace | MountNamespace
	// AllNamespaces adds UTS and IPC namespaces (the seed's unshare_all).
	// There is no PID namespace: the command would be PID 1 there, and
	// PID 1 ignores signals it has no handler for, so Ctrl-C would not
	// stop it.
	AllNamespaces = DefaultNamespaces | UTSNamespace | IPCNamespace
)

// WithNamespaces chooses the box's namespaces (default DefaultNamespaces).
// The network namespace is required. Without the user namespace htapod
// must run as root (the command then runs as root). Without the mount
// namespace the box keeps the host's resolv.conf and CA bundles: DNS is
// not answered by htapod, and TLS interception is off.
func WithNamespaces(ns Namespaces) Option { return func(c *config) { c.namespaces = ns } }

func (ns Namespaces) validate() error {
	if ns&NetworkNamespace == 0 {
		return errors.New("the network namespace is required: it is where htapod sees the command's traffic")
	}
	return nil
}

// TCPSniffer sees the content of TCP flows: the plaintext, when htapod
// intercepted TLS. The built-in dissectors are TCPSniffers too.
type TCPSniffer interface {
	// SniffTCP is called when a flow's content starts (after TLS
	// interception, so meta.TLS and meta.ALPN are known). It returns the
	// Stream that gets both directions of the flow, or nil to skip it.
	//
	// The Stream is fed from a queue of its own on a goroutine of its
	// own: it cannot stall the relay. One that falls more than 16 MiB
	// behind is dropped for that flow (an event.Unparsed says so); one
	// that panics is dropped the same way. Data never changes the bytes
	// relayed.
	SniffTCP(meta dissect.Meta) dissect.Stream
}

// UDPSniffer sees the datagrams of UDP flows, as TCPSniffer sees streams.
type UDPSniffer interface {
	SniffUDP(meta dissect.Meta) dissect.Datagrams
}

// TCPSnifferFunc adapts a function to a TCPSniffer.
type TCPSnifferFunc func(meta dissect.Meta) dissect.Stream

// SniffTCP implements TCPSniffer.
func (f TCPSnifferFunc) SniffTCP(meta dissect.Meta) dissect.Stream { return f(meta) }

// UDPSnifferFunc adapts a function to a UDPSniffer.
type UDPSnifferFunc func(meta dissect.Meta) dissect.Datagrams

// SniffUDP implements UDPSniffer.
func (f UDPSnifferFunc) SniffUDP(meta dissect.Meta) dissect.Datagrams { return f(meta) }

// WithTCP adds a sniffer of TCP flows (nil adds none) and sets the router
// of TCP flows (nil keeps the default: route.ByPort(route.ForwardWithTLS),
// or route.Forward everywhere when InterceptTLS(false)). htapod's own
// routes come first: its DNS resolver, then MapHost and Map.
func WithTCP(s TCPSniffer, r route.Router) Option {
	return func(c *config) {
		if s != nil {
			c.tcpSniff = append(c.tcpSniff, s)
		}
		if r != nil {
			c.tcpRouter = r
		}
	}
}

// WithUDP adds a sniffer of UDP flows and sets the router of UDP flows, as
// WithTCP does for TCP.
func WithUDP(s UDPSniffer, r route.Router) Option {
	return func(c *config) {
		if s != nil {
			c.udpSniff = append(c.udpSniff, s)
		}
		if r != nil {
			c.udpRouter = r
		}
	}
}

// userRouter dispatches to the TCP or UDP router.
func (r *Runner) userRouter() route.Router {
	def := route.Router(route.ByPort(route.ForwardWithTLS))
	if !r.cfg.intercept {
		def = route.ByPort(route.Forward)
	}
	tcp, udp := r.cfg.tcpRouter, r.cfg.udpRouter
	if tcp == nil {
		tcp = def
	}
	if udp == nil {
		udp = def
	}
	return route.Func(func(f route.Flow) route.Decision {
		if f.Proto == event.UDP {
			return udp.Route(f)
		}
		return tcp.Route(f)
	})
}

func (r *Runner) sniffers() ([]func(dissect.Meta) dissect.Stream, []func(dissect.Meta) dissect.Datagrams) {
	var tcp []func(dissect.Meta) dissect.Stream
	for _, s := range r.cfg.tcpSniff {
		tcp = append(tcp, s.SniffTCP)
	}
	var udp []func(dissect.Meta) dissect.Datagrams
	for _, s := range r.cfg.udpSniff {
		udp = append(udp, s.SniffUDP)
	}
	return tcp, udp
}
