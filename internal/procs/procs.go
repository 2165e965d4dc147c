// Package procs sizes the Go scheduler (GOMAXPROCS) to the load while
// htapod relays a command's traffic.
//
// Each request through htapod is handed from goroutine to goroutine: the
// TUN's reader, gVisor's TCP processor, the relay, the dissector. With a
// P for every CPU, each hand-off may wake a thread on another core, where
// the command or its server was running; with fewer Ps the woken goroutine
// runs next on the thread that woke it. On 2 cores one P made a request
// on one connection 60 µs quicker and HTTP/1.1 keep-alive on 10
// connections a third faster. But one P is a cap: with 100 connections
// busy, goroutines waited milliseconds for it and the rate fell by a
// third. So a Governor watches how long runnable goroutines wait (the
// runtime's /sched/latencies histogram) and gives every P back while
// they wait too long, and takes them away when they no longer do.
package procs

import (
	"math"
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// The thresholds, on the 90th percentile of how long a goroutine that was
// made runnable waited to run, over one tick. Measured on 2 cores under
// HTTP/1.1 keep-alive (docs/performance.md, the sixth pass): one P kept
// it at about 230 µs with 10 connections and let it reach 4–5 ms with
// 100, where every P kept it at 2.6–3.1 ms.
const (
	tick  = 100 * time.Millisecond
	raise = 1 * time.Millisecond   // on few Ps, above this: every P
	lower = 500 * time.Microsecond // on every P, below this: few again
)

// Governor switches GOMAXPROCS between few and all while it runs.
type Governor struct {
	few, all int
	stop     chan struct{}

	mu      sync.Mutex // held while GOMAXPROCS is changed
	stopped bool       // Stop was called: GOMAXPROCS is left alone from then on

	sample []metrics.Sample // the run goroutine's
	prev   []uint64
}

// Start keeps GOMAXPROCS between few and the value it has now (all), by
// the load, until Stop. It starts with all and looks at the load every
// 100 ms: a command that ends sooner runs as it would without it, and
// Start returns at once. With few ≥ all it changes nothing.
func Start(few int) *Governor {
	g := &Governor{few: few, all: runtime.GOMAXPROCS(0), stop: make(chan struct{}),
		sample: []metrics.Sample{{Name: "/sched/latencies:seconds"}}}
	if g.few < 1 || g.few >= g.all {
		g.stopped = true
		return g
	}
	go g.run()
	return g
}

// Stop ends the governor and sets GOMAXPROCS back to what it was before
// Start, when the governor had changed it. It does not wait for the
// governor's goroutine: with one P that goroutine may wait for the P as
// long as another goroutine holds it in a blocking system call (up to
// 10 ms, until the runtime takes the P back). It may be called more than
// once.
func (g *Governor) Stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return
	}
	g.stopped = true
	close(g.stop)
	if runtime.GOMAXPROCS(0) != g.all {
		runtime.GOMAXPROCS(g.all)
	}
}

// set sets GOMAXPROCS to n unless Stop was called (changing it stops the
// world: only when run decides on a change), and reports whether the
// governor goes on.
func (g *Governor) set(n int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return false
	}
	runtime.GOMAXPROCS(n)
	return true
}

func (g *Governor) run() {
	g.p90() // the histogram so far is not this run's
	t := time.NewTicker(tick)
	defer t.Stop()
	procs := g.all
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		wait, next := g.p90(), procs
		switch {
		case procs == g.few && wait > raise:
			next = g.all
		case procs == g.all && wait < lower:
			next = g.few
		default:
			continue
		}
		if !g.set(next) {
			return
		}
		procs = next
	}
}

// p90 is the 90th percentile of the scheduling latencies since the last
// call (0 when nothing was scheduled): the upper bound of its bucket.
func (g *Governor) p90() time.Duration {
	metrics.Read(g.sample)
	h := g.sample[0].Value.Float64Histogram()
	if g.prev == nil {
		g.prev = make([]uint64, len(h.Counts))
	}
	defer copy(g.prev, h.Counts)
	var total uint64
	for i, c := range h.Counts {
		total += c - g.prev[i]
	}
	if total == 0 {
		return 0
	}
	var seen uint64
	var at float64
	for i, c := range h.Counts {
		if seen += c - g.prev[i]; seen*10 >= total*9 {
			at = h.Buckets[i+1]
			if math.IsInf(at, 1) {
				at = h.Buckets[i]
			}
			break
		}
	}
	return time.Duration(at * float64(time.Second))
}
