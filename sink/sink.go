// Package sink defines the contract every output of a run implements:
// the human report (sink/text), JSON lines (sink/jsonl), HAR (sink/har),
// pcapng (sink/pcapng) and the exit summary (sink/summary) implement it,
// and so does an output of a library user's own, attached with
// htapod.WithSink.
//
// A run gives each sink the events its filter selected, calls Flush on
// one clock (and when htapod is asked to stop, so that files on disk stay
// complete), and calls Close once at the end; a Close error means the
// output could not be completed, and reaches the user.
package sink

import (
	"time"

	"github.com/htapod/htapod/event"
)

// Sink is one output of a run.
type Sink interface {
	// Handle takes one event. It is called from the relay's goroutines,
	// concurrently, and must not block for long. A write error is kept
	// and returned by Close; later events may be dropped.
	Handle(e event.Event)
	// Flush writes out what is buffered, so that the output on disk is
	// complete up to now. It is called on a clock and on signals,
	// concurrently with Handle.
	Flush() error
	// Close flushes and ends the output, and returns the first error the
	// output had: nil means it is complete. No Handle or Flush follows.
	Close() error
}

// Gated is a Sink that sees every event together with the filter's
// decision, rather than only the selected events: pcapng, whose packets
// arrive before the events that decide their flow, holds them until the
// flow is decided. Without a filter every event is selected.
type Gated interface {
	Sink
	HandleSelected(e event.Event, selected bool)
}

// Paced is a Sink whose Flush is costly (HAR rewrites its whole file):
// the run calls its Flush at most once per FlushInterval, and on signals.
// Sinks that are not Paced are flushed every DefaultFlushInterval.
type Paced interface {
	FlushInterval() time.Duration
}

// DefaultFlushInterval bounds how long a line of a report or of JSON
// lines waits in a buffer: a busy run (100,000 requests a second) costs
// one write call per flush, not one per line.
const DefaultFlushInterval = 100 * time.Millisecond

// Func adapts a function to a Sink that has nothing to flush or close.
type Func func(event.Event)

// Handle calls f.
func (f Func) Handle(e event.Event) { f(e) }

// Flush does nothing.
func (Func) Flush() error { return nil }

// Close does nothing.
func (Func) Close() error { return nil }
