package jsonl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/htapod/htapod/event"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// fixedNow stamps events without a time in tests.
func fixedNow() time.Time { return t0.Add(time.Hour) }

func TestGolden(t *testing.T) {
	for _, tt := range samples {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			s := New(&b)
			s.now = fixedNow
			s.Handle(tt.e)
			if err := s.Close(); err != nil {
				t.Fatalf("Close() = %v", err)
			}
			got := b.String()
			path := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("Handle(%s) wrote\n%s\nwant\n%s", tt.name, got, want)
			}
		})
	}
}

// TestSchema checks what docs/json.md promises of every line: one object
// ending in a newline, "v": 1, "type" the Kind, "time" in TimeFormat, "flow"
// for flow events only, and snake_case names.
func TestSchema(t *testing.T) {
	for _, tt := range samples {
		t.Run(tt.name, func(t *testing.T) {
			line, err := Marshal(tt.e, fixedNow)
			if err != nil {
				t.Fatalf("Marshal() = %v", err)
			}
			if n := bytes.Count(line, []byte("\n")); n != 1 || line[len(line)-1] != '\n' {
				t.Fatalf("Marshal() = %q; want one line ending in a newline", line)
			}
			var obj map[string]any
			if err := json.Unmarshal(line, &obj); err != nil {
				t.Fatalf("Unmarshal(%s) = %v", line, err)
			}
			if obj["v"] != float64(1) {
				t.Errorf("v = %v; want 1", obj["v"])
			}
			if obj["type"] != tt.e.Kind() {
				t.Errorf("type = %v; want %q", obj["type"], tt.e.Kind())
			}
			ts, _ := obj["time"].(string)
			if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || len(ts) != len("2006-01-02T15:04:05.000000000Z") {
				t.Errorf("time = %q; want RFC 3339 UTC with nanoseconds", ts)
			}
			if id := tt.e.Flow(); (id != 0) != (obj["flow"] != nil) {
				t.Errorf("flow = %v; want it exactly when the event has a flow (%d)", obj["flow"], id)
			}
			checkNames(t, "", obj)
		})
	}
}

// checkNames fails on a field name that is not snake_case.
func checkNames(t *testing.T, at string, v any) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if k != strings.ToLower(k) || strings.ContainsAny(k, "- ") {
				t.Errorf("field %s%s is not snake_case", at, k)
			}
			checkNames(t, at+k+".", x)
		}
	case []any:
		for _, x := range v {
			checkNames(t, at, x)
		}
	}
}

func TestBodyPayload(t *testing.T) {
	tests := []struct {
		data       []byte
		text, b64  string
		wantAbsent bool
	}{
		{data: nil, wantAbsent: true},
		{data: []byte("plain"), text: "plain"},
		{data: []byte("naïve ✓"), text: "naïve ✓"},
		{data: []byte{0xff, 0x00}, b64: "/wA="},
		{data: []byte("cut \xe2\x9c"), b64: "Y3V0IOKc"}, // a rune cut in half is not UTF-8
	}
	for _, tt := range tests {
		p := newPayload(tt.data)
		if p.Text != tt.text || p.Base64 != tt.b64 {
			t.Errorf("newPayload(%q) = %+v; want text %q, base64 %q", tt.data, p, tt.text, tt.b64)
		}
	}
}

// countingWriter records each Write as one element.
type countingWriter struct {
	mu     sync.Mutex
	writes [][]byte
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, append([]byte(nil), p...))
	return len(p), nil
}

// TestConcurrent: lines written from many goroutines are each one Write of
// one whole object.
func TestConcurrent(t *testing.T) {
	w := &countingWriter{}
	s := New(w)
	const goroutines, each = 16, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				s.Handle(samples[(g+i)%len(samples)].e)
			}
		})
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if len(w.writes) != goroutines*each {
		t.Fatalf("%d writes; want %d", len(w.writes), goroutines*each)
	}
	for _, line := range w.writes {
		if !json.Valid(line) || bytes.Count(line, []byte("\n")) != 1 {
			t.Fatalf("write %q is not one JSON line", line)
		}
	}
}

func TestFlushesBufferedWriter(t *testing.T) {
	var out bytes.Buffer
	bw := bufio.NewWriterSize(&out, 64<<10)
	s := New(bw)
	s.Handle(samples[0].e)
	if out.Len() != 0 {
		t.Errorf("after Handle, %d bytes out; want the line buffered until Flush", out.Len())
	}
	if err := s.Flush(); err != nil || out.Len() == 0 || bw.Buffered() != 0 {
		t.Errorf("after Flush (%v), %d bytes out and %d buffered; want the line flushed", err, out.Len(), bw.Buffered())
	}
}

type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.n++
	return 0, errors.New("disk full")
}

func TestCloseReportsWriteError(t *testing.T) {
	w := &failingWriter{}
	s := New(w)
	s.Handle(samples[0].e)
	s.Handle(samples[1].e)
	err := s.Close()
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Close() = %v; want the write error", err)
	}
	if w.n != 1 {
		t.Errorf("%d writes; want 1 (none after the first failed)", w.n)
	}
	if err2 := s.Close(); err2 != err {
		t.Errorf("second Close() = %v; want %v", err2, err)
	}
	s.Handle(samples[0].e)
	if w.n != 1 {
		t.Errorf("Handle after Close wrote")
	}
}

func TestNilEvent(t *testing.T) {
	var b bytes.Buffer
	New(&b).Handle(nil)
	if b.Len() != 0 {
		t.Errorf("Handle(nil) wrote %q; want nothing", b.String())
	}
}

func Example() {
	s := New(os.Stdout)
	s.Handle(&event.Notice{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Level: "warn", Message: "UDP flow table full"})
	if err := s.Close(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// {"v":1,"type":"notice","time":"2026-01-02T03:04:05.000000000Z","level":"warn","message":"UDP flow table full"}
}

// TestDocExamples keeps docs/json.md honest: every example line in it is
// one of the golden lines, and every type has an example.
func TestDocExamples(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "json.md"))
	if err != nil {
		t.Skipf("no docs/json.md: %v", err)
	}
	goldens, err := filepath.Glob(filepath.Join("testdata", "*.golden"))
	if err != nil {
		t.Fatal(err)
	}
	golden := map[string]bool{}
	for _, path := range goldens {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		golden[strings.TrimSuffix(string(b), "\n")] = true
	}
	types := map[string]bool{}
	in := false
	for _, line := range strings.Split(string(doc), "\n") {
		switch {
		case line == "```json":
			in = true
		case line == "```":
			in = false
		case in:
			if !golden[line] {
				t.Errorf("docs/json.md example is no golden line (update it from testdata):\n%s", line)
			}
			var obj struct{ Type string }
			if err := json.Unmarshal([]byte(line), &obj); err == nil {
				types[obj.Type] = true
			}
		}
	}
	for _, kind := range []string{"flow", "dns", "http", "websocket", "tls", "unparsed", "notice"} {
		if !types[kind] {
			t.Errorf("docs/json.md has no example of %q", kind)
		}
	}
}
