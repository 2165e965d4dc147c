package dns

import (
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
)

// NewUDP returns the dissector of a UDP flow carrying DNS, one message a
// datagram (RFC 1035 §4.2.1). It emits one event.DNS per query: when its
// answer arrives (Rcode, Answers, Duration from the query's datagram to
// the answer's), or at Close with Rcode "" and Err "no answer". Server
// and Source are meta.Dst. Queries and answers are told apart by the QR
// bit; an answer to a query not seen is ignored, a query repeated with
// the same ID and question (a retransmission) keeps the first's start,
// and a TC answer has Truncated set.
//
// A datagram that is not a DNS message makes it emit one event.Unparsed
// and return an error wrapping dissect.ErrMalformed; it then ignores the
// flow. opts is not used: a message is bounded by its datagram and at
// most MaxPending queries wait.
func NewUDP(meta dissect.Meta, opts dissect.Options, emit dissect.Emit) dissect.Datagrams {
	return &udp{newMatcher(meta, event.UDP, emit)}
}

var _ dissect.Datagrams = (*udp)(nil)

// udp is the dissector of DNS over UDP.
type udp struct {
	m *matcher
}

// Datagram implements dissect.Datagrams.
func (u *udp) Datagram(dir event.Direction, b []byte, t time.Time) error {
	if u.m.failed {
		return nil
	}
	return u.m.message(b, t)
}

// Close implements dissect.Datagrams.
func (u *udp) Close(t time.Time) {
	u.m.close()
}
