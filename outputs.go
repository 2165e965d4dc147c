package htapod

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/filter"
	"github.com/htapod/htapod/sink"
)

// OutputError says that an output of a run could not be completed (a
// write failed: a full disk, a closed pipe). Run returns it, joined with
// the others, together with the command's status: the command ran, but
// what the output holds is not all it saw.
type OutputError struct {
	Output string // "report", "JSON lines", "HAR file run.har", …
	Err    error
}

func (e *OutputError) Error() string { return e.Output + ": " + e.Err.Error() }

// Unwrap returns the output's error.
func (e *OutputError) Unwrap() error { return e.Err }

// maxKeptFlows bounds the flows a filter remembers as matched.
const maxKeptFlows = 1 << 16

// output is one sink of a run and the name its errors carry.
type output struct {
	name string
	s    sink.Sink
	// every is how often it is flushed; last when it was.
	every time.Duration
	last  time.Time
}

// fanout hands each event of a run to its outputs: the event handlers see
// every event; the sinks see what the filter selected, decided once per
// event. One clock flushes every sink.
type fanout struct {
	handlers []event.Handler
	sel      *filter.Selector // nil: no filter
	outs     []*output
	plain    []sink.Sink // outs that are not sink.Gated
	gated    []sink.Gated

	stop chan struct{}
	done chan struct{}
}

func newFanout(f *filter.Filter, handlers []event.Handler) *fanout {
	o := &fanout{handlers: handlers}
	if f != nil {
		o.sel = filter.NewSelector(f, maxKeptFlows)
	}
	return o
}

// add attaches s, named name in its errors. Not after start.
func (o *fanout) add(name string, s sink.Sink) {
	out := &output{name: name, s: s, every: sink.DefaultFlushInterval}
	if p, ok := s.(sink.Paced); ok && p.FlushInterval() > 0 {
		out.every = p.FlushInterval()
	}
	o.outs = append(o.outs, out)
	if g, ok := s.(sink.Gated); ok {
		o.gated = append(o.gated, g)
	} else {
		o.plain = append(o.plain, s)
	}
}

// handle takes one event of the run.
func (o *fanout) handle(e event.Event) {
	for _, h := range o.handlers {
		h(e)
	}
	selected := true
	if o.sel == nil {
		o.deliver(e)
	} else {
		selected = o.sel.Select(e, o.deliver)
	}
	for _, g := range o.gated {
		g.HandleSelected(e, selected)
	}
}

func (o *fanout) deliver(e event.Event) {
	for _, s := range o.plain {
		s.Handle(e)
	}
}

// start runs the flush clock: each sink is flushed at its interval, and
// every sink at once when htapod is asked to stop (SIGINT, SIGTERM,
// SIGHUP — which the box also forwards to the command), so that the files
// on disk are complete up to then even if htapod is killed afterwards.
func (o *fanout) start() {
	o.stop, o.done = make(chan struct{}), make(chan struct{})
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		defer close(o.done)
		defer signal.Stop(sigs)
		tick := time.NewTicker(sink.DefaultFlushInterval)
		defer tick.Stop()
		for {
			select {
			case now := <-tick.C:
				o.flush(now, false)
			case <-sigs:
				o.flush(time.Now(), true)
			case <-o.stop:
				return
			}
		}
	}()
}

// flush flushes the sinks that are due, or all of them. An error is kept
// by the sink and returned by its Close.
func (o *fanout) flush(now time.Time, all bool) {
	for _, out := range o.outs {
		if all || now.Sub(out.last) >= out.every {
			out.s.Flush()
			out.last = now
		}
	}
}

// close stops the clock and closes every sink, in the order they were
// added, and returns their errors as OutputErrors.
func (o *fanout) close() error {
	if o.stop != nil {
		close(o.stop)
		<-o.done
	}
	var errs []error
	for _, out := range o.outs {
		if err := out.s.Close(); err != nil {
			errs = append(errs, &OutputError{Output: out.name, Err: err})
		}
	}
	return errors.Join(errs...)
}

// sinkName names a library user's sink in errors: its String, or its type.
func sinkName(s sink.Sink) string {
	if n, ok := s.(fmt.Stringer); ok {
		return n.String()
	}
	return fmt.Sprintf("%T", s)
}
