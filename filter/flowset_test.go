package filter

import (
	"sync"
	"testing"

	"github.com/htapod/htapod/event"
)

func TestFlowSet(t *testing.T) {
	s := NewFlowSet(mustParse(t, "~d api.lab.test & ~m POST & !~c 2.."), 0)
	steps := []struct {
		name string
		e    event.Event
		keep bool
	}{
		{"flowTCP", flowTCP, false}, // flow 1: nothing matched
		{"dnsUDP", dnsUDP, false},   // no flow, no match
		{"postReq", postReq, true},  // flow 2 matches
		{"unparsed", unparsed, true},
		{"post201", post201, true}, // not matching, but flow 2 is kept
		{"get", get, false},
		{"notice", notice, false},
		{"dnsUDP", dnsUDP, false},
	}
	for _, st := range steps {
		if got := s.Observe(st.e); got != st.keep {
			t.Errorf("Observe(%s) = %v; want %v", st.name, got, st.keep)
		}
	}
	for id, want := range map[uint64]bool{0: false, 1: false, 2: true, 3: false} {
		if got := s.Keep(id); got != want {
			t.Errorf("Keep(%d) = %v; want %v", id, got, want)
		}
	}
	s.Forget(2)
	if s.Keep(2) {
		t.Error("Keep(2) after Forget(2) = true; want false")
	}
}

// TestFlowSetNoFlow: events of no flow are kept when they match, and
// keep no flow.
func TestFlowSetNoFlow(t *testing.T) {
	s := NewFlowSet(mustParse(t, "~dns"), 0)
	if !s.Observe(dnsUDP) {
		t.Error("Observe(dnsUDP) = false; want true")
	}
	if s.Keep(0) {
		t.Error("Keep(0) = true; want false")
	}
	if !s.Observe(dnsTCP) || !s.Keep(5) {
		t.Error("DNS on flow 5 did not keep flow 5")
	}
}

func TestFlowSetNil(t *testing.T) {
	s := NewFlowSet(nil, 0)
	for _, smp := range samples {
		if !s.Observe(smp.e) {
			t.Errorf("Observe(%s) with no filter = false; want true", smp.name)
		}
	}
	for _, id := range []uint64{1, 2, 3, 4, 5} {
		if !s.Keep(id) {
			t.Errorf("Keep(%d) with no filter = false; want true", id)
		}
	}
}

func tcpFlow(id uint64) *event.Flow { return &event.Flow{ID: id, Proto: event.TCP} }

// TestFlowSetBound: the oldest kept flow is forgotten first, and a flow
// kept again after Forget is not lost when its old entry goes.
func TestFlowSetBound(t *testing.T) {
	s := NewFlowSet(mustParse(t, "~tcp"), 3)
	for id := uint64(1); id <= 3; id++ {
		s.Observe(tcpFlow(id))
	}
	s.Observe(tcpFlow(2)) // already kept: no new entry
	s.Observe(tcpFlow(4)) // evicts 1
	want := map[uint64]bool{1: false, 2: true, 3: true, 4: true}
	check := func(when string) {
		t.Helper()
		for id, w := range want {
			if got := s.Keep(id); got != w {
				t.Errorf("%s: Keep(%d) = %v; want %v", when, id, got, w)
			}
		}
	}
	check("after 1 2 3 2 4")

	s.Forget(2)
	s.Observe(tcpFlow(2)) // a new entry; its old one is next to go
	s.Observe(tcpFlow(5)) // evicts the old entry of 2: 2 stays
	want = map[uint64]bool{2: true, 3: false, 4: true, 5: true}
	check("after Forget(2) 2 5")
	if n := len(s.kept); n > 3 {
		t.Errorf("%d flows remembered; want at most 3", n)
	}
}

func TestFlowSetConcurrent(t *testing.T) {
	s := NewFlowSet(mustParse(t, "~tcp"), 100)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				id := uint64(g*1000 + i)
				if !s.Observe(tcpFlow(id)) {
					t.Errorf("Observe(flow %d) = false; want true", id)
					return
				}
				s.Keep(id)
				if i%7 == 0 {
					s.Forget(id)
				}
			}
		}()
	}
	wg.Wait()
	if n := len(s.kept); n > 100 {
		t.Errorf("%d flows remembered; want at most 100", n)
	}
}
