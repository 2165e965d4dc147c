package filter

import (
	"sync"

	"github.com/htapod/htapod/event"
)

// DefaultFlows is how many kept flows a FlowSet remembers when
// NewFlowSet is given no bound.
const DefaultFlows = 1 << 16

// FlowSet selects whole flows, for sinks that keep a flow or nothing of
// it (pcapng, the flow lines): a flow is kept when any of its events
// matched the filter, whichever event that was and whenever it came.
//
// It remembers at most a bounded number of kept flows, forgetting the
// oldest first, so a long run cannot grow it without end; choose the
// bound above the number of flows a sink waits on at once, or Forget a
// flow once its sink is done with it. A FlowSet is safe for concurrent
// use.
type FlowSet struct {
	f   *Filter
	max int

	mu   sync.Mutex
	kept map[uint64]uint64 // flow ID → seq of its entry in ring
	ring []flowEntry       // kept flows, oldest at next once full
	next int
	seq  uint64
}

// flowEntry is a kept flow, in the order flows were kept. seq tells an
// entry from a later one of the same flow (kept again after Forget).
type flowEntry struct {
	id, seq uint64
}

// NewFlowSet returns an empty FlowSet that keeps the flows of the events
// f matches (every flow for a nil f), remembering at most limit flows
// (DefaultFlows when limit <= 0).
func NewFlowSet(f *Filter, limit int) *FlowSet {
	if limit <= 0 {
		limit = DefaultFlows
	}
	return &FlowSet{f: f, max: limit, kept: map[uint64]uint64{}}
}

// Observe records e: when e matches the filter, its flow is kept from now
// on. It reports whether e should be kept: whether its flow is kept, or,
// for an event of no flow (a Notice, a DNS query to htapod's resolver),
// whether e matched.
func (s *FlowSet) Observe(e event.Event) (keep bool) {
	id := e.Flow()
	if id != 0 && s.Keep(id) {
		return true
	}
	if !s.f.Match(e) {
		return false
	}
	if id != 0 {
		s.add(id)
	}
	return true
}

// Keep reports whether an event of the flow with this ID matched (and
// the flow was not forgotten since).
func (s *FlowSet) Keep(flowID uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.kept[flowID]
	return ok
}

// Forget drops a flow from the set, for a sink that is done with it.
func (s *FlowSet) Forget(flowID uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.kept, flowID)
}

func (s *FlowSet) add(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.kept[id]; ok {
		return
	}
	s.seq++
	ent := flowEntry{id: id, seq: s.seq}
	if len(s.ring) < s.max {
		s.ring = append(s.ring, ent)
	} else {
		if old := s.ring[s.next]; s.kept[old.id] == old.seq {
			delete(s.kept, old.id)
		}
		s.ring[s.next] = ent
		s.next = (s.next + 1) % s.max
	}
	s.kept[id] = ent.seq
}
