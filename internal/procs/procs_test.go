package procs

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestGovernor: on one P, goroutines that keep each other waiting get
// every P back within a few ticks; once they are gone the governor goes
// back to one P; Stop sets back what was there before Start.
func TestGovernor(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	g := Start(1)
	defer g.Stop()
	if !waitProcs(1, 5*time.Second) {
		t.Fatalf("GOMAXPROCS = %d 5 s after Start(1); want 1", runtime.GOMAXPROCS(0))
	}

	// 50 goroutines, each running 200 µs at a time: on one P each waits
	// about 10 ms for its next turn.
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				for start := time.Now(); time.Since(start) < 200*time.Microsecond; {
				}
				runtime.Gosched()
			}
		}()
	}
	raised := waitProcs(4, 5*time.Second)
	stop.Store(true)
	wg.Wait()
	if !raised {
		t.Fatalf("GOMAXPROCS = %d after 5 s of goroutines waiting ~10 ms to run; want 4", runtime.GOMAXPROCS(0))
	}
	if !waitProcs(1, 5*time.Second) {
		t.Fatalf("GOMAXPROCS = %d 5 s after the load ended; want 1", runtime.GOMAXPROCS(0))
	}
	g.Stop()
	g.Stop() // a second Stop is harmless
	if n := runtime.GOMAXPROCS(0); n != 4 {
		t.Errorf("GOMAXPROCS = %d after Stop; want 4, as before Start", n)
	}
}

// TestGovernorStoppedAtOnce: a Stop right after Start leaves GOMAXPROCS as
// it was, also after the governor's goroutine has run.
func TestGovernorStoppedAtOnce(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	for range 20 {
		Start(1).Stop()
	}
	time.Sleep(50 * time.Millisecond)
	if n := runtime.GOMAXPROCS(0); n != 4 {
		t.Errorf("GOMAXPROCS = %d after 20 Starts each stopped at once; want 4", n)
	}
}

// TestGovernorNoChange: asking for as many Ps as there are changes nothing.
func TestGovernorNoChange(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	g := Start(2)
	if n := runtime.GOMAXPROCS(0); n != 2 {
		t.Errorf("GOMAXPROCS = %d after Start(2) on 2; want 2", n)
	}
	g.Stop()
	if n := runtime.GOMAXPROCS(0); n != 2 {
		t.Errorf("GOMAXPROCS = %d after Stop; want 2", n)
	}
}

// waitProcs reports whether GOMAXPROCS becomes n within d.
func waitProcs(n int, d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if runtime.GOMAXPROCS(0) == n {
			return true
		}
	}
	return false
}
