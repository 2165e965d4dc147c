package har

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"testing"
)

// TestLargeRun: 100,000 exchanges keep the heap flat (entries live in the
// spill file, not in memory), and the final HAR is valid JSON holding
// them all.
func TestLargeRun(t *testing.T) {
	if testing.Short() {
		t.Skip("writes about 100 MB; skipped with -short")
	}
	const total, sample = 100_000, 10_000
	w, path := newTestWriter(t)
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	var early uint64
	for i := range total {
		w.Handle(numbered(i))
		switch i {
		case sample:
			early = heap()
		case total / 2:
			if err := w.Flush(); err != nil { // a flush midway, as the timer does
				t.Fatalf("Flush() = %v", err)
			}
		}
	}
	late := heap()
	info, err := w.spill.Stat()
	if err != nil {
		t.Fatal(err)
	}
	// Holding the entries would grow the heap by about the spill's size;
	// allow a few MB of noise.
	const slack = 4 << 20
	if late > early+slack {
		t.Errorf("heap grew from %d to %d bytes over %d entries (%d bytes spilled); want it flat", early, late, total-sample, info.Size())
	}
	t.Logf("heap %d KB after %d entries, %d KB after %d; %d KB spilled", early>>10, sample, late>>10, total, info.Size()>>10)
	if err := w.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}

	// Decode the HAR as a stream, counting entries, without holding it.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := countEntries(json.NewDecoder(f))
	if err != nil {
		t.Fatalf("final HAR is not valid: %v", err)
	}
	if n != total {
		t.Errorf("final HAR has %d entries; want %d", n, total)
	}
}

// countEntries walks {"log":{…,"entries":[…]}} token by token and counts
// the entries, decoding one at a time, and checks that the document ends
// after the log.
func countEntries(dec *json.Decoder) (n int, err error) {
	want := func(delim json.Delim) error {
		tok, err := dec.Token()
		if err == nil && tok != delim {
			err = fmt.Errorf("got %v; want %v", tok, delim)
		}
		return err
	}
	if err := want('{'); err != nil {
		return 0, err
	}
	if tok, err := dec.Token(); err != nil || tok != "log" {
		return 0, fmt.Errorf("first field %v (%v); want log", tok, err)
	}
	if err := want('{'); err != nil {
		return 0, err
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return n, err
		}
		if key != "entries" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return n, err
			}
			continue
		}
		if err := want('['); err != nil {
			return n, err
		}
		for dec.More() {
			var e struct{ StartedDateTime string }
			if err := dec.Decode(&e); err != nil {
				return n, fmt.Errorf("entry %d: %w", n, err)
			}
			if e.StartedDateTime == "" {
				return n, fmt.Errorf("entry %d has no startedDateTime", n)
			}
			n++
		}
		if err := want(']'); err != nil {
			return n, err
		}
	}
	for range 2 {
		if err := want('}'); err != nil {
			return n, err
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return n, fmt.Errorf("after the HAR: %v; want the end", err)
	}
	return n, nil
}
