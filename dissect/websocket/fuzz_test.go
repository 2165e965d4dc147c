package websocket_test

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/dissect/internal/dissecttest"
	"github.com/htapod/htapod/event"
)

var update = flag.Bool("update", false, "rewrite testdata/fuzz/FuzzWebSocket")

// fuzzSeeds are conversations, client bytes then server bytes.
var fuzzSeeds = []struct{ name, up, down string }{
	{"hello", "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", "\x81\x05Hello"},
	{"fragments", frame(bin, key, "abc") + frame(fin|ping, key, "p") + frame(fin|cont, key, "def"),
		frame(text, nil, "x") + frame(cont, nil, "y") + frame(fin|cont, nil, "z")},
	{"close", frame(fin|closeF, key, "\x03\xe8bye"), frame(fin|closeF, nil, "\x03\xe8bye")},
	{"long", frame(fin|bin, key, strings.Repeat("L", 300)), frame(fin|rsv1|text, nil, "\xf2\x48\xcd\xc9\xc9\x07\x00")},
	{"bad", "GET / HTTP/1.1\r\n\r\n", frame(fin|0x3, nil, "")},
	{"deflate", frame(rsv1|text, key, "\xf2\x48\xcd") + frame(fin|cont, key, "\xc9\xc9\x07\x00") + frame(fin|rsv1|text, key, "\xf2\x00\x11\x00\x00"),
		frame(fin|rsv1|bin, nil, "\x00\x05\x00\xfa\xffHello\x00") + frame(fin|rsv1|text, nil, "\xf3\x48\xcd\xc9\xc9\x07\x00\x00")},
}

// fuzzOpts keeps Data small so that the limit is hit.
var fuzzOpts = dissect.Options{BodyLimit: 64}

// FuzzWebSocket feeds arbitrary bytes both ways, cut into alternating
// steps. The dissector must not panic, must give the same events fed
// whole or a byte at a time, and must fail only with ErrMalformed.
func FuzzWebSocket(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s.up), []byte(s.down), uint8(len(s.name)))
	}
	f.Fuzz(func(t *testing.T, upB, downB []byte, cut uint8) {
		var script []step
		n := int(cut%16) + 1
		for len(upB) > 0 || len(downB) > 0 {
			k := min(n, len(upB))
			script, upB = append(script, step{event.Up, string(upB[:k])}), upB[k:]
			k = min(n+int(cut>>4), len(downB))
			script, downB = append(script, step{event.Down, string(downB[:k])}), downB[k:]
		}
		got, err := run(fuzzOpts, script, whole)
		got2, err2 := run(fuzzOpts, script, dissecttest.Bytes)
		if got2 != got || fmt.Sprint(err2) != fmt.Sprint(err) {
			t.Fatalf("fed a byte at a time:\n%s(error %v)\nwant (fed whole):\n%s(error %v)", got2, err2, got, err)
		}
		if err != nil && !errors.Is(err, dissect.ErrMalformed) {
			t.Errorf("Data = %v; want ErrMalformed", err)
		}
		if strings.Contains(got, "DATA OVER LIMIT") {
			t.Errorf("events:\n%s\nwant Data within %d bytes", got, fuzzOpts.BodyLimit)
		}
	})
}

// TestFuzzSeeds writes fuzzSeeds as the seed corpus with -update.
func TestFuzzSeeds(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata/fuzz/FuzzWebSocket")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzWebSocket")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range fuzzSeeds {
		seed := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n[]byte(%s)\nuint8(%d)\n",
			strconv.Quote(s.up), strconv.Quote(s.down), len(s.name))
		if err := os.WriteFile(filepath.Join(dir, s.name), []byte(seed), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
