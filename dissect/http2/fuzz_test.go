package http2

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
)

var updateSeeds = flag.Bool("update", false, "rewrite the seed corpus in testdata/fuzz/FuzzHTTP2")

// Fuzz inputs: a mode byte, then chunks of the conversation after the
// client preface, each a control byte (bit 7 set for Down, the low 7 bits
// its length) and its bytes. Mode bit 0 picks NewUpgraded, bit 1 sets
// Meta.TLS, bit 2 a small Options.
const (
	modeUpgraded = 1 << iota
	modeTLS
	modeSmall
)

// fuzzInput encodes chunks (the first of which is the preface) as a fuzz
// input.
func fuzzInput(mode byte, chunks []chunk) []byte {
	out := []byte{mode}
	for _, c := range chunks[1:] {
		for b := c.b; len(b) > 0; {
			n := min(len(b), 127)
			ctrl := byte(n)
			if c.dir == event.Down {
				ctrl |= 0x80
			}
			out = append(append(out, ctrl), b[:n]...)
			b = b[n:]
		}
	}
	return out
}

// fuzzChunks decodes a fuzz input.
func fuzzChunks(data []byte) (mode byte, chunks []chunk) {
	if len(data) == 0 {
		return 0, []chunk{{event.Up, []byte(ClientPreface)}}
	}
	mode, data = data[0], data[1:]
	chunks = []chunk{{event.Up, []byte(ClientPreface)}}
	for len(data) > 0 {
		ctrl := data[0]
		n := min(int(ctrl&0x7f), len(data)-1)
		dir := event.Up
		if ctrl&0x80 != 0 {
			dir = event.Down
		}
		chunks = append(chunks, chunk{dir, data[1 : 1+n]})
		data = data[1+n:]
	}
	return mode, chunks
}

func FuzzHTTP2(f *testing.F) {
	for _, tc := range seedTests() {
		c := newConv(f, true)
		tc.build(c)
		f.Add(fuzzInput(tc.mode(), c.chunks))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		mode, chunks := fuzzChunks(data)
		meta := testMeta
		meta.TLS = mode&modeTLS != 0
		var opts dissect.Options
		if mode&modeSmall != 0 {
			opts = dissect.Options{BodyLimit: 16, MaxHeaderBytes: 200}
		}
		mk := func(emit dissect.Emit) dissect.Stream {
			if mode&modeUpgraded != 0 {
				return NewUpgraded(meta, opts, emit)
			}
			return New(meta, opts, emit)
		}
		// dissectChunks checks the invariants of the events; how the
		// bytes are cut must not change them.
		whole := dissectChunks(t, chunks, feedings[0], mk)
		cut := dissectChunks(t, chunks, feedings[3], mk)
		if !reflect.DeepEqual(whole.evs, cut.evs) || (whole.err == nil) != (cut.err == nil) {
			t.Fatalf("events cut at random:\n%s\nwant:\n%s", strings.Join(lines(cut.evs), "\n"),
				strings.Join(lines(whole.evs), "\n"))
		}
	})
}

// seedTests are the conversations the seed corpus is made of.
func seedTests() []dissectTest {
	var all []dissectTest
	for _, ts := range [][]dissectTest{exchangeTests(), headerTests(), grpcTests()} {
		all = append(all, ts...)
	}
	return all
}

func (tc *dissectTest) mode() byte {
	var m byte
	if tc.upgraded {
		m |= modeUpgraded
	}
	if tc.tls {
		m |= modeTLS
	}
	return m
}

// TestFuzzSeeds checks that the seed corpus decodes to the conversations
// it was made of; with -update it rewrites the corpus.
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzHTTP2")
	name := regexp.MustCompile(`[^a-z0-9]+`)
	for _, tc := range seedTests() {
		c := newConv(t, true)
		tc.build(c)
		in := fuzzInput(tc.mode(), c.chunks)
		file := filepath.Join(dir, strings.Trim(name.ReplaceAllString(strings.ToLower(tc.name), "-"), "-"))
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", in)
		if *updateSeeds {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%v (run go test -run TestFuzzSeeds -update)", err)
		}
		if string(got) != want {
			t.Errorf("%s is stale; run go test -run TestFuzzSeeds -update", file)
		}
		mode, chunks := fuzzChunks(in)
		if mode != tc.mode() || len(chunks) < 2 {
			t.Errorf("%s: decodes to mode %d and %d chunks", file, mode, len(chunks))
		}
	}
}
