package htapod

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/filter"
)

// testSink records what a run's fan-out does to it.
type testSink struct {
	mu       sync.Mutex
	got      []event.Event
	selected []bool // for the gated variant
	flushes  int
	closeErr error
	every    time.Duration
}

func (s *testSink) Handle(e event.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, e)
}
func (s *testSink) Flush() error                 { s.flushes++; return nil }
func (s *testSink) Close() error                 { return s.closeErr }
func (s *testSink) FlushInterval() time.Duration { return s.every }

type gatedSink struct{ testSink }

func (g *gatedSink) HandleSelected(e event.Event, selected bool) {
	g.Handle(e)
	g.selected = append(g.selected, selected)
}

func TestFanoutFilters(t *testing.T) {
	f, err := filter.Parse("~u /new")
	if err != nil {
		t.Fatal(err)
	}
	var all []event.Event
	out := newFanout(f, []event.Handler{func(e event.Event) { all = append(all, e) }})
	plain, gated := &testSink{}, &gatedSink{}
	out.add("plain", plain)
	out.add("gated", gated)
	events := []event.Event{
		&event.HTTP{FlowID: 1, Seq: 1, Phase: event.PhaseDone, Scheme: "https", Authority: "a", Path: "/new"},
		&event.HTTP{FlowID: 1, Seq: 2, Phase: event.PhaseDone, Scheme: "https", Authority: "a", Path: "/old"},
	}
	for _, e := range events {
		out.handle(e)
	}
	if len(all) != 2 {
		t.Errorf("event handler saw %d events; want both", len(all))
	}
	if len(plain.got) != 1 || plain.got[0] != events[0] {
		t.Errorf("sink got %v; want only the matching exchange", plain.got)
	}
	if len(gated.got) != 2 || !gated.selected[0] || gated.selected[1] {
		t.Errorf("gated sink got %d events selected %v; want both, [true false]", len(gated.got), gated.selected)
	}
}

func TestFanoutCloseErrors(t *testing.T) {
	disk := errors.New("no space left on device")
	out := newFanout(nil, nil)
	out.add("ok", &testSink{})
	out.add("HAR file x.har", &testSink{closeErr: disk})
	err := out.close()
	var oe *OutputError
	if !errors.As(err, &oe) || oe.Output != "HAR file x.har" || !errors.Is(err, disk) {
		t.Fatalf("close() = %v; want an OutputError for HAR file x.har wrapping %v", err, disk)
	}
}

func TestFanoutFlushClock(t *testing.T) {
	out := newFanout(nil, nil)
	fast, slow := &testSink{}, &testSink{every: 2 * time.Second}
	out.add("fast", fast)
	out.add("slow", slow)
	t0 := time.Now()
	for i := range 10 { // one second of ticks
		out.flush(t0.Add(time.Duration(i)*100*time.Millisecond), false)
	}
	if fast.flushes != 10 || slow.flushes != 1 {
		t.Errorf("after 10 ticks: fast flushed %d times, slow (every 2 s) %d; want 10 and 1", fast.flushes, slow.flushes)
	}
	out.flush(t0.Add(time.Second), true) // a signal
	if slow.flushes != 2 {
		t.Errorf("on a signal, slow flushed %d times in all; want 2", slow.flushes)
	}
}
