package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// gcHeadroom is how far the heap may grow past its live part before a
// collection, at least. Go's default lets it grow by the live part
// (GOGC=100), and htapod's live heap is small while it relays a busy
// connection or two (a few MiB), so it collected four times a second
// under HTTP keep-alive. Each collection takes one of the machine's cores
// for about a millisecond and lands on the requests in flight: the p99 of
// one connection was 650–820 µs, and 285–376 µs with collection off. With
// 32 MiB of headroom a small heap is collected every few seconds; a large
// one (thousands of connections) as by default.
const gcHeadroom = 32 << 20

// startGCHeadroom keeps GOGC at what gives the heap gcHeadroom to grow,
// set again after every collection from the live heap it left; never
// below 100. A GOGC set in the environment is left alone.
func startGCHeadroom() {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var afterGC func(*gcTick)
	afterGC = func(*gcTick) {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			debug.SetGCPercent(gcPercent(sample[0].Value.Uint64()))
		}
		runtime.SetFinalizer(&gcTick{}, afterGC) // runs after the next collection
	}
	afterGC(nil)
}

// gcTick is garbage whose finalizer says a collection has run. It holds a
// pointer so that it is not a tiny allocation, whose finalizer may never
// run.
type gcTick struct{ _ *int }

// gcPercent is the GOGC that lets a heap of live bytes grow by
// gcHeadroom, or by itself when that is more.
func gcPercent(live uint64) int {
	live = max(live, 1<<20)
	return int(max(100, gcHeadroom*100/live))
}
