package main

import (
	"os"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

// TestGCHeadroom: with a small live heap, allocating 64 MiB of garbage
// takes a collection or two, not the dozen that Go's default (GOGC=100,
// a 4 MiB minimum) takes.
func TestGCHeadroom(t *testing.T) {
	if _, set := os.LookupEnv("GOGC"); set {
		t.Skip("GOGC is set in the environment, which htapod leaves alone")
	}
	startGCHeadroom()
	runtime.GC()
	gogc := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if metrics.Read(gogc); gogc[0].Value.Uint64() > 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GOGC is still %d 5 s after a collection", gogc[0].Value.Uint64())
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var sink []byte
	for range 64 << 10 {
		sink = make([]byte, 1<<10)
	}
	_ = sink
	runtime.ReadMemStats(&after)
	if n := after.NumGC - before.NumGC; n > 3 {
		t.Errorf("%d collections for 64 MiB of garbage with GOGC %d; want at most 3", n, gogc[0].Value.Uint64())
	}
}

func TestGCPercent(t *testing.T) {
	for _, tt := range []struct {
		live uint64
		want int
	}{
		{0, 3200},       // under 1 MiB counts as 1 MiB
		{4 << 20, 800},  // 4 MiB may grow by 32
		{32 << 20, 100}, // the default from here on
		{1 << 30, 100},
	} {
		if got := gcPercent(tt.live); got != tt.want {
			t.Errorf("gcPercent(%d) = %d; want %d", tt.live, got, tt.want)
		}
	}
}
