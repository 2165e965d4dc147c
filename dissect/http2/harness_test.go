package http2

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/dissect/internal/dissecttest"
	"github.com/htapod/htapod/event"
)

// t0 is when test conversations start; chunk i is relayed at t0 + i ms.
var t0 = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func chunkTime(i int) time.Time { return t0.Add(time.Duration(i) * time.Millisecond) }

// closeTime is when test conversations are closed.
var closeTime = t0.Add(time.Hour)

// feeding says how a conversation's chunks are cut into Data calls.
type feeding struct {
	name string
	// cut splits one chunk; r is seeded per test, so cuts are the same
	// on every run.
	cut func(r *rand.Rand, b []byte) [][]byte
	// coalesce first joins consecutive chunks of one direction (the
	// joined chunk is relayed at the time of its first).
	coalesce bool
}

var feedings = []feeding{
	{name: "frames", cut: whole},
	{name: "coalesced", cut: whole, coalesce: true},
	{name: "bytes", cut: func(_ *rand.Rand, b []byte) [][]byte { return dissecttest.Bytes(b) }},
	{name: "random", cut: func(r *rand.Rand, b []byte) [][]byte { return dissecttest.Random(r, 40)(b) }},
}

func whole(_ *rand.Rand, b []byte) [][]byte { return [][]byte{b} }

// result is what a dissector emitted and its first error.
type result struct {
	evs []event.Event
	err error
}

// dissectChunks feeds chunks to the dissector mk returns, as f says, and
// closes it. After a Data error it feeds nothing more, like the relay.
// Every piece is a fresh copy that is scribbled over after the call, so
// a dissector that keeps a reference to it is caught.
func dissectChunks(tb testing.TB, chunks []chunk, f feeding, mk func(dissect.Emit) dissect.Stream) result {
	tb.Helper()
	var res result
	s := mk(func(ev event.Event) { res.evs = append(res.evs, ev) })
	var steps []dissecttest.Step
	for i, c := range chunks {
		if f.coalesce && len(steps) > 0 && steps[len(steps)-1].Dir == c.dir {
			last := &steps[len(steps)-1]
			last.Data = append(slices.Clip(last.Data), c.b...)
			continue
		}
		steps = append(steps, dissecttest.Step{Dir: c.dir, Data: c.b, At: chunkTime(i)})
	}
	r := rand.New(rand.NewPCG(1, uint64(len(chunks))))
	_, res.err = dissecttest.Feed(s, steps, func(b []byte) [][]byte { return f.cut(r, b) })
	s.End(event.Up, closeTime)
	s.End(event.Down, closeTime)
	s.Close(closeTime)
	checkInvariants(tb, res.evs)
	return res
}

// checkInvariants checks what holds for every event sequence: the phases
// of each exchange come in order and once, Done last, and at most one
// Unparsed.
func checkInvariants(tb testing.TB, evs []event.Event) {
	tb.Helper()
	order := map[event.HTTPPhase]int{event.PhaseRequest: 1, event.PhaseResponse: 2, event.PhaseDone: 3}
	last := map[uint32]int{}
	unparsed := 0
	for _, ev := range evs {
		switch ev := ev.(type) {
		case *event.HTTP:
			o := order[ev.Phase]
			if o == 0 || o <= last[ev.Seq] {
				tb.Fatalf("stream %d: %s after phase %d", ev.Seq, ev.Phase, last[ev.Seq])
			}
			last[ev.Seq] = o
		case *event.Unparsed:
			unparsed++
		default:
			tb.Fatalf("unexpected event %T", ev)
		}
	}
	if unparsed > 1 {
		tb.Fatalf("%d Unparsed events; want at most 1", unparsed)
	}
	for seq, o := range last {
		if o != 3 {
			tb.Fatalf("stream %d: no Done event", seq)
		}
	}
}

// lines summarises events, one line each, without times.
func lines(evs []event.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = line(ev)
	}
	return out
}

func line(ev event.Event) string {
	switch ev := ev.(type) {
	case *event.HTTP:
		switch ev.Phase {
		case event.PhaseRequest:
			return fmt.Sprintf("%d request %s %s", ev.Seq, ev.Method, ev.URL())
		case event.PhaseResponse:
			return fmt.Sprintf("%d response %d", ev.Seq, ev.Status)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%d done %d req=%d/%d resp=%d/%d", ev.Seq, ev.Status,
			ev.ReqBody.Size, ev.ReqBody.DecodedSize, ev.RespBody.Size, ev.RespBody.DecodedSize)
		if len(ev.Interim) > 0 {
			fmt.Fprintf(&b, " interim=%v", ev.Interim)
		}
		if len(ev.ReqTrailer) > 0 {
			fmt.Fprintf(&b, " req-trailer=%v", ev.ReqTrailer)
		}
		if len(ev.RespTrailer) > 0 {
			fmt.Fprintf(&b, " resp-trailer=%v", ev.RespTrailer)
		}
		if g := ev.GRPC; g != nil {
			fmt.Fprintf(&b, " grpc=%s/%s req=%v resp=%v status=%d msg=%q",
				g.Service, g.Method, g.ReqMsgs, g.RespMsgs, g.Status, g.Message)
		}
		if ev.Upgrade != "" {
			fmt.Fprintf(&b, " upgrade=%s", ev.Upgrade)
		}
		if ev.Err != "" {
			fmt.Fprintf(&b, " err=%q", ev.Err)
		}
		return b.String()
	case *event.Unparsed:
		return fmt.Sprintf("unparsed %s", ev.Dissector)
	}
	return fmt.Sprintf("%T", ev)
}

// withoutTimes returns copies of evs with the times zeroed.
func withoutTimes(evs []event.Event) []event.Event {
	out := make([]event.Event, len(evs))
	for i, ev := range evs {
		switch ev := ev.(type) {
		case *event.HTTP:
			c := *ev
			c.Start, c.RespStart, c.End = time.Time{}, time.Time{}, time.Time{}
			out[i] = &c
		case *event.Unparsed:
			c := *ev
			c.Time = time.Time{}
			out[i] = &c
		default:
			out[i] = ev
		}
	}
	return out
}

// httpEvent returns the event of stream seq at phase, or fails.
func httpEvent(tb testing.TB, evs []event.Event, seq uint32, phase event.HTTPPhase) *event.HTTP {
	tb.Helper()
	for _, ev := range evs {
		if h, ok := ev.(*event.HTTP); ok && h.Seq == seq && h.Phase == phase {
			return h
		}
	}
	tb.Fatalf("no %s event for stream %d", phase, seq)
	return nil
}
