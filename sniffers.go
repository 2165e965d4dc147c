package htapod

import "github.com/htapod/htapod/dissect"

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
