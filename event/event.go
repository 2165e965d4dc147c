// Package event defines what htapod reports: the typed records that the
// network side (netstack, relay, dns) emits and that sinks render.
//
// Events are plain values. A sink may keep them; nothing mutates an event
// after it has been emitted.
package event

import (
	"net/netip"
	"time"
)

// Event is implemented by every event type.
type Event interface {
	// Kind names the type in a word ("flow", "dns"); it is the "type"
	// field of the JSON form.
	Kind() string
	// Flow is the ID of the flow the event belongs to, or 0 for events
	// outside flows (htapod's own DNS answers, notices).
	Flow() uint64
	// At is when the event's news became known: the end of a flow, the
	// answer to a DNS query, the phase of an HTTP exchange; zero when
	// unknown.
	At() time.Time
	// Net is the transport the event travelled over, TCP or UDP, or ""
	// for none or unknown.
	Net() Proto
}

// Proto is a transport protocol.
type Proto string

// Transport protocols of flows.
const (
	TCP Proto = "tcp"
	UDP Proto = "udp"
)

// End says how a flow ended.
type End string

// How flows end. The words are the last field of a human flow line.
const (
	// Closed: both sides finished normally (FIN both ways, or UDP flow
	// closed because the command exited).
	Closed End = "closed"
	// Reset: one side reset the connection; the reset was mirrored.
	Reset End = "reset"
	// Refused: the upstream refused the connection; the client got a RST.
	Refused End = "refused"
	// Unreachable: the upstream address or network was unreachable.
	Unreachable End = "unreachable"
	// Timeout: the upstream never answered the connection attempt.
	Timeout End = "timeout"
	// Idle: a UDP flow expired after its idle timeout.
	Idle End = "idle"
	// Denied: a router denied the destination.
	Denied End = "denied"
	// Aborted: htapod cut the flow at exit (the command had exited and
	// left it open past the grace time).
	Aborted End = "aborted"
	// Failed: any other error, see Flow.Err.
	Failed End = "failed"
)

// Flow is emitted once per finished TCP connection or UDP flow.
type Flow struct {
	ID    uint64
	Proto Proto
	// Src is the command's address, Dst the destination it asked for.
	Src, Dst netip.AddrPort
	// Upstream is where htapod actually connected; differs from Dst when a
	// mapping rewrote the destination. Zero when no dial was made.
	Upstream netip.AddrPort
	// Name is the DNS name the command resolved to Dst, when known.
	Name string
	// Up counts bytes from the command to the destination, Down the reverse.
	// For UDP they count payload bytes; Packets counts datagrams both ways.
	// For TCP, Packets counts the segments between the command and
	// htapod's netstack (handshake and ACKs included), when known.
	Up, Down     int64
	PacketsUp    int64
	PacketsDown  int64
	Start, Ended time.Time
	End          End
	// Err is the error behind End, when there was one.
	Err string
	// Process opened the flow; nil when htapod did not look it up.
	Process *Process
}

// Kind implements Event.
func (*Flow) Kind() string { return "flow" }

// Duration is how long the flow lasted.
func (f *Flow) Duration() time.Duration { return f.Ended.Sub(f.Start) }

// FlowOpen is emitted when a flow is connected: the upstream dial
// succeeded and the command's handshake completed (TCP), or the first
// datagram went out (UDP). Its ID is the one the flow's other events and
// its closing event.Flow carry.
type FlowOpen struct {
	ID       uint64
	Proto    Proto
	Src, Dst netip.AddrPort
	Upstream netip.AddrPort
	Name     string
	Time     time.Time
	// Process opened the flow; nil when htapod did not look it up.
	Process *Process
}

// Kind implements Event.
func (*FlowOpen) Kind() string { return "flow_open" }

// DNS is emitted for each query that htapod's own resolver answered, and
// for each query/answer the DNS dissector saw on a flow to another server.
type DNS struct {
	// FlowID is the flow the query travelled on; 0 for htapod's resolver.
	FlowID uint64
	ID     uint16
	// Server is the resolver address the command queried, Transport "udp" or "tcp".
	Server    netip.AddrPort
	Transport Proto
	Name      string
	Type      string
	// Rcode is the response code in words: NOERROR, NXDOMAIN, SERVFAIL…
	Rcode string
	// Answers are the answer records' data in presentation form
	// ("203.0.113.10", "alias.lab.test." for a CNAME…).
	Answers  []string
	Start    time.Time
	Duration time.Duration
	// Source says who answered: "hosts" (the hosts file), "htapod" (its own
	// names, such as host.htapod.internal) or the upstream server.
	Source string
	// Truncated says the answer had the TC bit set (RFC 1035 §4.1.1): the
	// client should ask again over TCP.
	Truncated bool
	Err       string
	// Process sent the query; nil when htapod did not look it up.
	Process *Process
}

// Kind implements Event.
func (*DNS) Kind() string { return "dns" }

// Notice is a message about htapod itself that belongs in the report
// (a warning, a failure that did not stop the run).
type Notice struct {
	Time    time.Time
	Level   string // "info", "warn", "error"
	Message string
}

// Kind implements Event.
func (*Notice) Kind() string { return "notice" }

// Handler receives events. It must not block for long: it is called on the
// relay's goroutines. It must be safe for concurrent use.
type Handler func(Event)
