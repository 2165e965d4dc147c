// Package dissecttest feeds dissectors in tests as the relay does: in
// steps, each cut into pieces in every way that must give the same
// events, with pieces a dissector may not keep. Only tests import it.
package dissecttest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
)

// Step is one thing that happens on a flow at At: Data from one side, or
// (End) that side's end (FIN).
type Step struct {
	Dir  event.Direction
	Data []byte
	End  bool
	At   time.Time
}

// Splitter is one way to cut a step's bytes into the pieces Data gets.
type Splitter struct {
	Name  string
	Split func(b []byte) [][]byte
}

// Whole passes b in one piece.
func Whole(b []byte) [][]byte { return [][]byte{b} }

// Bytes cuts b into pieces of one byte.
func Bytes(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		out[i] = b[i : i+1]
	}
	return out
}

// Random returns a Splitter func that cuts pieces of 1 to most bytes as r
// says; a seeded r cuts the same way on every run.
func Random(r *rand.Rand, most int) func(b []byte) [][]byte {
	return func(b []byte) [][]byte {
		var out [][]byte
		for len(b) > 0 {
			n := 1 + r.IntN(min(len(b), most))
			out, b = append(out, b[:n]), b[n:]
		}
		return out
	}
}

// Splitters returns the ways every script is fed, whole first: whole,
// byte by byte, and seeds random cuts of at most most bytes a piece.
func Splitters(seeds, most int) []Splitter {
	sp := []Splitter{{"whole", Whole}, {"bytes", Bytes}}
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		sp = append(sp, Splitter{fmt.Sprintf("random%d", seed), Random(rand.New(rand.NewPCG(seed, 42)), most)})
	}
	return sp
}

// Feed feeds steps to s, each cut by split. Every piece is a fresh copy
// that is scribbled over after the call, so a dissector that keeps a
// reference to it is caught. It stops at the first error of Data, as the
// relay does, and returns it with the time of the step it stopped at (the
// last step's when none failed); it does not Close s.
func Feed(s dissect.Stream, steps []Step, split func([]byte) [][]byte) (time.Time, error) {
	var at time.Time
	for _, st := range steps {
		at = st.At
		if st.End {
			s.End(st.Dir, st.At)
			continue
		}
		for _, p := range split(st.Data) {
			p = slices.Clone(p)
			err := s.Data(st.Dir, p, st.At)
			for i := range p {
				p[i] = 0xee
			}
			if err != nil {
				return at, err
			}
		}
	}
	return at, nil
}
