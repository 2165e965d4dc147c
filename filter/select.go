package filter

import (
	"strings"
	"sync"

	"github.com/htapod/htapod/event"
)

// maxHeld bounds the exchanges a Selector holds heads of while they are
// undecided; beyond it, an exchange's events are decided one by one.
const maxHeld = 1 << 16

// Selector applies a Filter to a run's events as every output needs it:
//
//   - An exchange — an HTTP request and its response, a WebSocket
//     message, a DNS query — is kept or left out as a whole, by its own
//     events: one exchange of a connection matching keeps neither the
//     exchanges before it nor those after it.
//   - The heads of an HTTP exchange (its request and response events)
//     are held back until the exchange is decided: kept, they are passed
//     on just before the event that decided it, in order; left out, they
//     are dropped. An exchange whose filter needs it finished (a status, a
//     body: Filter.NeedsDone) is decided at its done event.
//   - A WebSocket message that is kept brings its session's upgrade
//     exchange (the 101) with it, passed on just before the first such
//     message when the exchange itself was left out: a HAR entry for a
//     WebSocket is its upgrade exchange, carrying its messages.
//   - A flow's own events (its opening, its TLS handshake, its end) are
//     kept when they match, or when any event of the flow was kept.
//   - Notices and Unparsed events always pass.
//
// A Selector is safe for concurrent use; the events of one exchange must
// come in order (as one dissector emits them).
type Selector struct {
	f         *Filter
	holdHeads bool
	flows     *FlowSet // flows with a kept event

	mu       sync.Mutex
	exch     map[uint64]map[uint32]*exchState // flow → HTTP seq → state
	upgrades map[uint64][]event.Event         // flow → its WebSocket upgrade exchange, left out
	held     int                              // events held in exch and upgrades
}

type exchState struct {
	keep  bool
	heads []event.Event
}

// NewSelector returns a Selector for f (a nil f keeps everything),
// remembering at most limit kept flows (DefaultFlows when limit <= 0).
func NewSelector(f *Filter, limit int) *Selector {
	return &Selector{f: f, holdHeads: f.NeedsDone(), flows: NewFlowSet(f, limit), exch: map[uint64]map[uint32]*exchState{},
		upgrades: map[uint64][]event.Event{}}
}

// Select decides e and calls emit for what is kept: e itself, preceded by
// the heads of its exchange that were held back. It reports whether e
// was kept. emit is called without the Selector's lock held.
func (s *Selector) Select(e event.Event, emit func(event.Event)) bool {
	if s.f == nil {
		emit(e)
		return true
	}
	var out []event.Event
	switch e := e.(type) {
	case *event.Notice, *event.Unparsed:
		out = []event.Event{e}
	case *event.HTTP:
		out = s.http(e)
	case *event.Flow:
		keep := s.flows.Keep(e.ID) || s.f.Match(e)
		s.flows.Forget(e.ID)
		s.mu.Lock()
		for _, st := range s.exch[e.ID] {
			s.held -= len(st.heads)
		}
		delete(s.exch, e.ID)
		s.held -= len(s.upgrades[e.ID])
		delete(s.upgrades, e.ID)
		s.mu.Unlock()
		if keep {
			out = []event.Event{e}
		}
	case *event.FlowOpen, *event.TLS:
		id := e.Flow()
		if s.flows.Keep(id) || s.match(e, id) {
			out = []event.Event{e}
		}
	case *event.WebSocket:
		if s.match(e, e.FlowID) {
			out = append(s.takeUpgrade(e.FlowID), e)
		}
	default: // DNS queries: each its own exchange
		if s.match(e, e.Flow()) {
			out = []event.Event{e}
		}
	}
	for _, o := range out {
		emit(o)
	}
	return len(out) > 0 && out[len(out)-1] == e
}

// match reports whether e matches, and keeps its flow when it does.
func (s *Selector) match(e event.Event, flow uint64) bool {
	if !s.f.Match(e) {
		return false
	}
	if flow != 0 {
		s.flows.add(flow)
	}
	return true
}

// http decides one event of an HTTP exchange and returns what to emit.
// The filter runs outside the lock: the events of one exchange come in
// order, so its state is not touched meanwhile.
func (s *Selector) http(h *event.HTTP) []event.Event {
	done := h.Phase == event.PhaseDone
	s.mu.Lock()
	st := s.state(h, done)
	if st.keep {
		s.finish(h, st, done)
		s.mu.Unlock()
		return []event.Event{h}
	}
	s.mu.Unlock()
	match := (done || !s.holdHeads) && s.match(h, h.FlowID)
	s.mu.Lock()
	defer s.mu.Unlock()
	heads := st.heads
	s.finish(h, st, done)
	switch {
	case match:
		st.keep = true
		s.held -= len(st.heads)
		st.heads = nil
		return append(heads, h)
	case !done && s.exch[h.FlowID][h.Seq] == st:
		st.heads = append(st.heads, h)
		s.held++
	case isUpgrade(h) && s.held+len(heads) < maxHeld:
		s.held -= len(s.upgrades[h.FlowID])
		s.upgrades[h.FlowID] = append(heads, h)
		s.held += len(heads) + 1
	}
	return nil
}

// isUpgrade says h is the done event of an exchange that switched its
// connection to WebSocket.
func isUpgrade(h *event.HTTP) bool {
	return h.Phase == event.PhaseDone && h.Status == 101 && strings.EqualFold(h.Upgrade, "websocket")
}

// takeUpgrade returns the left-out upgrade exchange of flow's WebSocket
// session, once: a kept message brings it along.
func (s *Selector) takeUpgrade(flow uint64) []event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	up := s.upgrades[flow]
	if up != nil {
		delete(s.upgrades, flow)
		s.held -= len(up)
	}
	return up
}

// state returns the state of h's exchange, remembered when there is room
// and more of the exchange is to come.
func (s *Selector) state(h *event.HTTP, done bool) *exchState {
	if st := s.exch[h.FlowID][h.Seq]; st != nil {
		return st
	}
	st := &exchState{}
	if !done && s.held < maxHeld {
		if s.exch[h.FlowID] == nil {
			s.exch[h.FlowID] = map[uint32]*exchState{}
		}
		s.exch[h.FlowID][h.Seq] = st
	}
	return st
}

// finish forgets h's exchange at its done event.
func (s *Selector) finish(h *event.HTTP, st *exchState, done bool) {
	if !done {
		return
	}
	if byFlow := s.exch[h.FlowID]; byFlow[h.Seq] == st {
		delete(byFlow, h.Seq)
		s.held -= len(st.heads)
		st.heads = nil
	}
}
