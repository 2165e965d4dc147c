// Package dns dissects DNS on flows to any server other than htapod's own
// resolver: queries and answers over UDP (one message a datagram) and
// TCP (length-prefixed messages, RFC 1035 §4.2.2), matched by ID and
// question into one event.DNS each.
//
// Everything here is pure: no I/O, no goroutines, no clock. Messages are
// parsed with github.com/miekg/dns.
package dns

import (
	"fmt"
	"strings"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
)

// MaxPending bounds the queries a flow's dissector waits on for answers.
// Past it the oldest query is reported unanswered to make room.
const MaxPending = 1024

// Err values of events for queries without an answer.
const (
	errNoAnswer = "no answer"
	errEvicted  = "no answer: too many queries were waiting"
	errStopped  = "no answer seen: the dissector stopped at a malformed message"
)

// dissectorName names this dissector in event.Unparsed.
const dissectorName = "dns"

// query is a query waiting for its answer.
type query struct {
	id uint16
	// q is the first question as sent; hasQ is false for a query
	// without one.
	q     mdns.Question
	hasQ  bool
	start time.Time
}

// matcher matches a flow's responses to its queries and emits the events.
// It tells queries from responses by the QR bit, not by direction.
type matcher struct {
	meta      dissect.Meta
	transport event.Proto
	emit      dissect.Emit
	pending   []query // in the order sent, at most MaxPending
	failed    bool    // a malformed message stopped the dissector
}

func newMatcher(meta dissect.Meta, transport event.Proto, emit dissect.Emit) *matcher {
	return &matcher{meta: meta, transport: transport, emit: emit}
}

// message handles one whole DNS message b seen at t.
func (m *matcher) message(b []byte, t time.Time) error {
	msg := new(mdns.Msg)
	if err := msg.Unpack(b); err != nil {
		// A truncated answer may end inside a record; its header and
		// question are still worth reporting (Unpack has set them).
		if !msg.Response || !msg.Truncated {
			return m.fail(t, fmt.Errorf("%w: dns message of %d bytes: %w", dissect.ErrMalformed, len(b), err))
		}
	}
	if msg.Response {
		m.answer(msg, t)
	} else {
		m.query(msg, t)
	}
	return nil
}

// query records a query. A second query with the same ID and question
// while the first waits is a retransmission: the first keeps its start.
func (m *matcher) query(msg *mdns.Msg, t time.Time) {
	q := query{id: msg.Id, start: t}
	if len(msg.Question) > 0 {
		q.q, q.hasQ = msg.Question[0], true
	}
	for _, p := range m.pending {
		if p.id == q.id && p.hasQ == q.hasQ && sameQuestion(p.q, q.q) {
			return
		}
	}
	if len(m.pending) == MaxPending {
		m.emit(m.event(m.pending[0], errEvicted))
		m.pending = append(m.pending[:0], m.pending[1:]...)
	}
	m.pending = append(m.pending, q)
}

// answer emits the event of the oldest query msg answers: same ID and
// same question, or same ID when msg carries no question (a FORMERR may
// not). An answer to no query seen is ignored.
func (m *matcher) answer(msg *mdns.Msg, t time.Time) {
	for i, p := range m.pending {
		if p.id != msg.Id {
			continue
		}
		if len(msg.Question) > 0 && (!p.hasQ || !sameQuestion(p.q, msg.Question[0])) {
			continue
		}
		m.pending = append(m.pending[:i], m.pending[i+1:]...)
		ev := m.event(p, "")
		ev.Rcode = rcodeString(msg.Rcode)
		ev.Duration = t.Sub(p.start)
		for _, rr := range msg.Answer {
			ev.Answers = append(ev.Answers, rdata(rr))
		}
		if msg.Truncated {
			ev.Truncated = true
		}
		m.emit(ev)
		return
	}
}

// close emits the queries still waiting, as unanswered.
func (m *matcher) close() {
	why := errNoAnswer
	if m.failed {
		why = errStopped
	}
	for _, p := range m.pending {
		m.emit(m.event(p, why))
	}
	m.pending = nil
}

// event returns the event of query p, without an answer yet.
func (m *matcher) event(p query, err string) *event.DNS {
	ev := &event.DNS{
		FlowID:    m.meta.FlowID,
		ID:        p.id,
		Server:    m.meta.Dst,
		Transport: m.transport,
		Start:     p.start,
		Source:    m.meta.Dst.String(),
		Err:       err,
	}
	if p.hasQ {
		ev.Name = strings.TrimSuffix(p.q.Name, ".")
		ev.Type = mdns.Type(p.q.Qtype).String()
	}
	return ev
}

// fail reports, once, that the dissector gives up on the flow, and
// returns err.
func (m *matcher) fail(t time.Time, err error) error {
	if !m.failed {
		m.failed = true
		m.emit(&event.Unparsed{FlowID: m.meta.FlowID, Time: t, Dissector: dissectorName, Reason: err.Error()})
	}
	return err
}

// sameQuestion compares questions; names ignore case, as resolvers that
// randomise it (draft-vixie-dnsext-dns0x20) expect servers to echo it.
func sameQuestion(a, b mdns.Question) bool {
	return a.Qtype == b.Qtype && a.Qclass == b.Qclass && strings.EqualFold(a.Name, b.Name)
}

// rcodeString names an rcode ("NXDOMAIN"), or "RCODE23".
func rcodeString(rc int) string {
	if s, ok := mdns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprintf("RCODE%d", rc)
}

// rdata is the presentation form of rr's data ("203.0.113.10",
// "alias.lab.test." for a CNAME), as htapod's resolver reports it.
func rdata(rr mdns.RR) string {
	return strings.TrimPrefix(rr.String(), rr.Header().String())
}
