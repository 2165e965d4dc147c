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
	done     sync.WaitGroup
	sample   []metrics.Sample
	prev     []uint64
	once     sync.Once
}

// Start sets GOMAXPROCS to few and keeps it between few and the value it
// had (all), by the load, until Stop. With few ≥ all it changes nothing.
func Start(few int) *Governor {
	g := &Governor{few: few, all: runtime.GOMAXPROCS(0), stop: make(chan struct{}),
		sample: []metrics.Sample{{Name: "/sched/latencies:seconds"}}}
	if g.few < 1 || g.few >= g.all {
		g.once.Do(func() {}) // nothing to stop
		return g
	}
	runtime.GOMAXPROCS(g.few)
	g.p90() // the histogram so far is not this run's
	g.done.Add(1)
	go g.run()
	return g
}

// Stop ends the governor and sets GOMAXPROCS back to what it was before
// Start. It may be called more than once.
func (g *Governor) Stop() {
	g.once.Do(func() {
		close(g.stop)
		g.done.Wait()
		runtime.GOMAXPROCS(g.all)
	})
}

func (g *Governor) run() {
	defer g.done.Done()
	t := time.NewTicker(tick)
	defer t.Stop()
	procs := g.few
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		wait := g.p90()
		switch {
		case procs == g.few && wait > raise:
			procs = g.all
		case procs == g.all && wait < lower:
			procs = g.few
		default:
			continue
		}
		runtime.GOMAXPROCS(procs)
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
	var total uint64
	for i, c := range h.Counts {
		total += c - g.prev[i]
	}
	var seen uint64
	var at float64
	for i, c := range h.Counts {
		seen += c - g.prev[i]
		if total > 0 && seen*10 >= total*9 {
			at = h.Buckets[i+1]
			if math.IsInf(at, 1) {
				at = h.Buckets[i]
			}
			break
		}
	}
	copy(g.prev, h.Counts)
	return time.Duration(at * float64(time.Second))
}
