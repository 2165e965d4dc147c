package har

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestFlushThenCrash: after Flush, a Writer that is never closed (htapod
// died) leaves a valid HAR of what was flushed.
func TestFlushThenCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.har")
	w, err := New(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.spill.Close() }) // the crash leaves the spill file; only free the descriptor
	for _, h := range samples[:3] {
		w.Handle(h)
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush() = %v", err)
	}
	for _, h := range samples[3:] {
		w.Handle(h) // seen after the last flush: lost with the crash
	}
	f := readHAR(t, path)
	if len(f.Log.Entries) != 3 {
		t.Fatalf("after Flush and a crash the HAR has %d entries; want 3", len(f.Log.Entries))
	}
	for i, e := range f.Log.Entries {
		if e.Request.URL != cleanURL(samples[i].URL()) {
			t.Errorf("entry %d url = %q; want %q", i, e.Request.URL, samples[i].URL())
		}
	}
	if err := validate(t, path); err != nil {
		t.Errorf("har-validator rejects the flushed HAR:\n%s", err)
	}
}

// crashEnv makes the test binary play the htapod that is killed.
const crashEnv = "HTAPOD_HAR_CRASH_TARGET"

// TestFlushThenKill runs a child that writes exchanges, flushes, writes
// more and is then killed with SIGKILL (no deferred code, no Close).
func TestFlushThenKill(t *testing.T) {
	if target := os.Getenv(crashEnv); target != "" {
		w, err := New(target)
		if err != nil {
			os.Exit(2)
		}
		for _, h := range samples[:2] {
			w.Handle(h)
		}
		if w.Flush() != nil {
			os.Exit(3)
		}
		for _, h := range samples[2:] {
			w.Handle(h)
		}
		w.buf.Flush() // even spilled to disk, unflushed entries are not in the HAR
		p, _ := os.FindProcess(os.Getpid())
		p.Kill()
		time.Sleep(time.Minute) // the signal comes first
		os.Exit(4)
	}
	path := filepath.Join(t.TempDir(), "run.har")
	cmd := exec.Command(os.Args[0], "-test.run=^TestFlushThenKill$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != -1 {
		t.Fatalf("child ended with %v; want killed by a signal", err)
	}
	if f := readHAR(t, path); len(f.Log.Entries) != 2 {
		t.Errorf("the killed run left %d entries; want the 2 flushed", len(f.Log.Entries))
	}
	if err := validate(t, path); err != nil {
		t.Errorf("har-validator rejects the killed run's HAR:\n%s", err)
	}
}

// TestFlushAtomic: while exchanges come and Flush runs, a reader of the
// target finds it absent or whole, never in between.
func TestFlushAtomic(t *testing.T) {
	w, path := newTestWriter(t)
	const exchanges = 1000
	var produced atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() { // htapod's relays
		for i := range exchanges {
			w.Handle(numbered(i))
		}
		produced.Store(true)
	})
	wg.Go(func() { // the flush timer
		for !produced.Load() {
			if err := w.Flush(); err != nil {
				t.Errorf("Flush() = %v", err)
				return
			}
		}
	})
	reads, last := 0, 0
	for !produced.Load() || reads < 10 {
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(b) {
			t.Fatalf("read %d: target is not whole JSON:\n%.300s…", reads, b)
		}
		n := bytes.Count(b, []byte(`"startedDateTime"`))
		if n < last {
			t.Fatalf("read %d: %d entries after %d; want never fewer", reads, n, last)
		}
		last = n
		reads++
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if f := readHAR(t, path); len(f.Log.Entries) != exchanges {
		t.Errorf("final HAR has %d entries; want %d", len(f.Log.Entries), exchanges)
	}
}

// TestFlushUnchanged: a Flush with nothing new leaves the target alone, so
// a timer costs nothing in a quiet run.
func TestFlushUnchanged(t *testing.T) {
	w, path := newTestWriter(t)
	w.Handle(getJSON)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(path)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(path)
	if !os.SameFile(before, after) {
		t.Errorf("second Flush without new exchanges replaced the target")
	}
	w.Handle(postForm)
	w.Flush()
	if f := readHAR(t, path); len(f.Log.Entries) != 2 {
		t.Errorf("after a new exchange and Flush, %d entries; want 2", len(f.Log.Entries))
	}
}
