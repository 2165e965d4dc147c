package relay

import (
	"sync"
	"testing"
	"time"

	"github.com/htapod/htapod/event"
)

// skipAfter is a dissector that needs the first keep bytes of the
// server's direction and only counts the rest (as an HTTP/1 dissector
// does with a large body), and all of the client's.
type skipAfter struct {
	keep int64

	mu            sync.Mutex
	data, skipped [2]int64
	ordered       bool // every Skip came after keep bytes of Data
	ended         bool
}

func (s *skipAfter) Data(dir event.Direction, b []byte, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[dirIndex(dir)] += int64(len(b))
	return nil
}

func (s *skipAfter) Skippable(dir event.Direction) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if dir == event.Up || s.data[1] < s.keep {
		return 0
	}
	return 1 << 40
}

func (s *skipAfter) Skip(dir event.Direction, n int64, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if dir == event.Down && s.data[1] >= s.keep {
		s.ordered = true
	}
	s.skipped[dirIndex(dir)] += n
}

func (s *skipAfter) End(event.Direction, time.Time) {}
func (s *skipAfter) Close(time.Time) {
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
}

// TestFeederSkips tees 16 MiB down and 1 MiB up in 64 KiB pieces to a
// dissector that needs only the first 100 KB of the download: the rest
// reaches it as counts, not copies; every byte is accounted for once, in
// each direction; and the upload, which it needs whole, is all data.
func TestFeederSkips(t *testing.T) {
	s := &skipAfter{keep: 100_000}
	f := newFeeder(1, "test", s, nil, func(event.Event) {})
	piece := make([]byte, 64<<10)
	for i := range 256 {
		f.tee(event.Down, piece)
		if i%16 == 0 {
			f.tee(event.Up, piece)
		}
		drained(t, f)
	}
	f.close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if down := s.data[1] + s.skipped[1]; down != 256*int64(len(piece)) {
		t.Errorf("down: %d data + %d skipped; want %d in all", s.data[1], s.skipped[1], 256*len(piece))
	}
	if s.data[0] != 16*int64(len(piece)) || s.skipped[0] != 0 {
		t.Errorf("up: %d data, %d skipped; want all %d as data", s.data[0], s.skipped[0], 16*len(piece))
	}
	if s.data[1] > s.keep+int64(len(piece)) || !s.ordered {
		t.Errorf("down: %d bytes copied (want at most %d), skips after the kept bytes %v", s.data[1], s.keep+int64(len(piece)), s.ordered)
	}
	if !s.ended {
		t.Error("the dissector was not closed")
	}
}

// drained waits until f's dissector has taken all the bytes queued (counts
// wait for the next bytes), as a relay's writes give it time to.
func drained(t *testing.T, f *feeder) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		n := f.backlog
		f.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(100 * time.Microsecond)
	}
	t.Fatal("the feeder did not drain its queue")
}
