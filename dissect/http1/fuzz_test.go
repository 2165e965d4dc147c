package http1_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
)

// fuzzOpts keeps the fuzzer's flows small so that bounds are hit.
var fuzzOpts = dissect.Options{BodyLimit: 256, MaxHeaderBytes: 2048}

// interleave cuts up and down into alternating steps of sizes drawn from
// cut, as a relay would see a conversation.
func interleave(upB, downB []byte, cut uint8) []step {
	n := int(cut%32) + 1
	var sc []step
	for len(upB) > 0 || len(downB) > 0 {
		k := min(n, len(upB))
		if k > 0 {
			sc = append(sc, up(string(upB[:k])))
			upB = upB[k:]
		}
		k = min(n+int(cut>>5), len(downB))
		if k > 0 {
			sc = append(sc, down(string(downB[:k])))
			downB = downB[k:]
		}
	}
	return append(sc, endUp, endDown)
}

// FuzzHTTP1 feeds arbitrary bytes both ways. The dissector must not
// panic, must give the same events however the bytes are split, must keep
// Data within the body limit, must fail only with its typed errors, and
// must end every exchange it started exactly once.
func FuzzHTTP1(f *testing.F) {
	for _, tc := range goldenCases {
		upB, downB := directions(tc.script)
		f.Add(upB, downB, uint8(len(tc.name)))
	}
	f.Fuzz(func(t *testing.T, upB, downB []byte, cut uint8) {
		sc := interleave(upB, downB, cut)
		evs, err := run(t, testMeta, fuzzOpts, sc, splitters()[0].Split)
		want := render(evs, err)
		evs2, err2 := run(t, testMeta, fuzzOpts, sc, splitters()[1].Split)
		if got := render(evs2, err2); got != want {
			t.Fatalf("fed a byte at a time:\n%s\nwant (fed whole):\n%s", got, want)
		}
		if err != nil && !errors.Is(err, dissect.ErrMalformed) && !errors.Is(err, dissect.ErrTooLarge) {
			t.Errorf("Data = %v; want ErrMalformed or ErrTooLarge", err)
		}
		checkExchanges(t, evs)
	})
}

// checkExchanges checks each exchange's phases: request first, done once
// and last, and every Data within the body limit.
func checkExchanges(t *testing.T, evs []event.Event) {
	t.Helper()
	phases := map[uint32][]event.HTTPPhase{}
	for _, e := range evs {
		h, ok := e.(*event.HTTP)
		if !ok {
			continue
		}
		phases[h.Seq] = append(phases[h.Seq], h.Phase)
		if len(h.ReqBody.Data) > fuzzOpts.BodyLimit || len(h.RespBody.Data) > fuzzOpts.BodyLimit {
			t.Errorf("exchange %d: Data over the body limit", h.Seq)
		}
	}
	for seq, ps := range phases {
		ok := ps[0] == event.PhaseRequest && ps[len(ps)-1] == event.PhaseDone
		if len(ps) == 3 {
			ok = ok && ps[1] == event.PhaseResponse
		}
		if !ok || len(ps) < 2 || len(ps) > 3 {
			t.Errorf("exchange %d phases %v; want request, [response,] done", seq, ps)
		}
	}
}

// directions concatenates a script's bytes each way.
func directions(sc []step) (upB, downB []byte) {
	for _, st := range sc {
		if st.dir == event.Up {
			upB = append(upB, st.data...)
		} else {
			downB = append(downB, st.data...)
		}
	}
	return upB, downB
}

// TestFuzzSeeds writes the golden cases as the seed corpus of FuzzHTTP1
// in testdata/fuzz when run with -update.
func TestFuzzSeeds(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata/fuzz/FuzzHTTP1")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzHTTP1")
	must(t, os.MkdirAll(dir, 0o755))
	for _, tc := range goldenCases {
		upB, downB := directions(tc.script)
		seed := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n[]byte(%s)\nuint8(%d)\n",
			strconv.Quote(string(upB)), strconv.Quote(string(downB)), len(tc.name))
		must(t, os.WriteFile(filepath.Join(dir, tc.name), []byte(seed), 0o644))
	}
}
