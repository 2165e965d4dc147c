// Package netstack runs gVisor's user-space TCP/IP stack on the TUN device of
// the box and turns the command's packets into flows: every TCP SYN and every
// new UDP 4-tuple is handed to a handler, which decides what to do with it.
//
// The stack owns no policy: it does not dial, route or report. It is the one
// package that imports gVisor's tcpip packages.
package netstack

import (
	"fmt"
	"log/slog"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/fdbased"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// Config says what the stack reads and whom it hands flows to.
type Config struct {
	// FD is the TUN device (IFF_TUN|IFF_NO_PI), or any fd that carries one
	// raw IP packet per read and write (a socketpair in tests). The stack
	// does not own it: close it after Close.
	FD int
	// MTU of the device. It must match the MTU set on the TUN.
	MTU uint32
	// VnetHdr says that FD is a TUN opened with IFF_VNET_HDR and checksum
	// offload (sandbox.Spec.VnetHdr): a struct virtio_net_hdr precedes
	// every packet, and checksums may be left partial.
	VnetHdr bool
	// TCP is called in a new goroutine for each new inbound connection,
	// before the handshake completes. It must call exactly one of the
	// request's Accept, Reset or Drop.
	TCP func(*TCPRequest)
	// UDP is called in a new goroutine for each new UDP 4-tuple. The
	// handler owns req.Conn and must close it.
	UDP func(*UDPRequest)
	// Capture, when set, sees every packet (for pcapng export).
	Capture Capture
	// Logger receives the stack's own diagnostics; nil discards them.
	Logger *slog.Logger
}

// Stack is a running netstack. Its methods are safe for concurrent use.
type Stack struct {
	s    *stack.Stack
	ep   stack.LinkEndpoint
	log  *slog.Logger
	fd   int
	syns *synMemo
	// vnet is the link endpoint when the TUN has virtio-net headers
	// (Config.VnetHdr); nil with gVisor's fdbased.
	vnet *vnetEndpoint
}

const nicID tcpip.NICID = 1

// maxInFlightSYN bounds connections whose upstream dial is still running.
// Beyond it new SYNs are dropped (the client retransmits).
const maxInFlightSYN = 4096

// New starts a stack on cfg.FD. The stack accepts packets to any address
// (promiscuous) and sends from any address (spoofing): it impersonates every
// destination the command talks to.
func New(cfg Config) (*Stack, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ep, err := linkEndpoint(cfg)
	if err != nil {
		return nil, fmt.Errorf("open link endpoint: %w", err)
	}
	vnet, _ := ep.(*vnetEndpoint)
	syns := &synMemo{}
	ep = newAckEndpoint(newCaptureEndpoint(ep, cfg.Capture, syns))
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6},
	})
	st := &Stack{s: s, ep: ep, log: cfg.Logger, fd: cfg.FD, syns: syns, vnet: vnet}
	if err := st.configure(cfg); err != nil {
		s.Close()
		return nil, err
	}
	return st, nil
}

func (st *Stack) configure(cfg Config) error {
	s := st.s
	sack := tcpip.TCPSACKEnabled(true)
	// Large buffers: the inner leg is a memory copy, and small windows
	// would cap throughput long before the CPU does.
	rcv := tcpip.TCPReceiveBufferSizeRangeOption{Min: 4 << 10, Default: 1 << 20, Max: 8 << 20}
	snd := tcpip.TCPSendBufferSizeRangeOption{Min: 4 << 10, Default: 1 << 20, Max: 8 << 20}
	mod := tcpip.TCPModerateReceiveBufferOption(true)
	// No TIME-WAIT. When the server's side closed first, the Stack ends
	// in TIME-WAIT, and the command's kernel, which closed second, may use
	// the same port again at once. gVisor hands a SYN that meets a
	// TIME-WAIT endpoint only to a listening endpoint; the Stack has none
	// (it forwards), so the new connection's SYNs were dropped for
	// gVisor's 60 s and the command's connect hung. What TIME-WAIT guards
	// against, a late segment of the old connection, cannot come over a
	// TUN inside one machine.
	tw := tcpip.TCPTimeWaitTimeoutOption(0)
	for _, o := range []struct {
		name string
		opt  tcpip.SettableTransportProtocolOption
	}{{"sack", &sack}, {"receive buffer", &rcv}, {"send buffer", &snd}, {"receive buffer moderation", &mod}, {"time-wait", &tw}} {
		if err := check("set tcp "+o.name, s.SetTransportProtocolOption(tcp.ProtocolNumber, o.opt)); err != nil {
			return err
		}
	}

	if cfg.TCP != nil {
		fwd := tcp.NewForwarder(s, 0, maxInFlightSYN, func(r *tcp.ForwarderRequest) {
			cfg.TCP(newTCPRequest(st, r))
		})
		s.SetTransportProtocolHandler(tcp.ProtocolNumber, fwd.HandlePacket)
	}
	if cfg.UDP != nil {
		fwd := udp.NewForwarder(s, func(r *udp.ForwarderRequest) bool {
			req, err := newUDPRequest(st, r)
			if err != nil {
				st.log.Debug("udp endpoint", "err", err)
				return true
			}
			go cfg.UDP(req)
			return true
		})
		s.SetTransportProtocolHandler(udp.ProtocolNumber, fwd.HandlePacket)
	}
	// The NIC comes last: creating it starts the readers, and gVisor's
	// options and handlers may only be set before packets flow.
	if err := check("create nic", s.CreateNIC(nicID, st.ep)); err != nil {
		return err
	}
	if err := check("set promiscuous", s.SetPromiscuousMode(nicID, true)); err != nil {
		return err
	}
	if err := check("set spoofing", s.SetSpoofing(nicID, true)); err != nil {
		return err
	}
	s.SetRouteTable([]tcpip.Route{
		{Destination: header.IPv4EmptySubnet, NIC: nicID},
		{Destination: header.IPv6EmptySubnet, NIC: nicID},
	})
	return nil
}

// Close stops the stack and releases every endpoint; open connections are
// reset. It does not close Config.FD, but it does stop the reader and close
// the link endpoint's own duplicate of it: the caller's close of FD must be
// the last one (sandbox.Box.Close hands the TUN's last reference on).
//
// Not through gVisor's RemoveNIC: that detaches the endpoint (and waits for
// its reader) while holding the stack's lock, which the reader may be
// waiting for to deliver a packet — a deadlock at the end of a busy run.
func (st *Stack) Close() {
	st.s.Close()
	if st.vnet != nil {
		st.vnet.stop()
	}
	st.s.Wait()
}

// linkEndpoint returns the link endpoint on cfg.FD: with a virtio-net
// header, htapod's own (no checksums computed on the inner leg); without,
// gVisor's fdbased.
func linkEndpoint(cfg Config) (stack.LinkEndpoint, error) {
	if cfg.VnetHdr {
		return newVnetEndpoint(cfg.FD, cfg.MTU, cfg.Capture != nil)
	}
	return fdbased.New(&fdbased.Options{
		FDs: []int{cfg.FD},
		MTU: cfg.MTU,
		// The kernel computes checksums of what it writes to the TUN; only
		// ours must be computed (TUN without offloads verifies them).
		RXChecksumOffload: true,
	})
}
