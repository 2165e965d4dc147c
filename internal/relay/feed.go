package relay

import (
	"math"
	"sync"
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
)

// maxBacklog bounds the bytes queued for one flow's dissector. A dissector
// that falls further behind is dropped for that flow (reported as
// unparsed): the relay never waits for a dissector.
const maxBacklog = 16 << 20

// feedTimeout bounds how long the end of a flow waits for its dissector to
// finish the queue, so that its events come before the flow's own line.
const feedTimeout = 2 * time.Second

// chunk is what the relay passed in one direction at t: bytes b, or, when
// skip is set, a count of bytes the dissector needs only counted.
type chunk struct {
	dir  event.Direction
	b    []byte
	skip int64
	t    time.Time
}

// feeder runs one flow's dissector on a goroutine of its own, fed from a
// queue that the relay fills without blocking.
type feeder struct {
	stream dissect.Stream
	dgrams dissect.Datagrams
	emit   event.Handler
	flowID uint64
	name   string

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []chunk
	backlog int
	closed  bool
	behind  bool // the dissector fell too far behind: drop it
	done    chan struct{}
	// Per direction (dirIndex): queued counts the bytes tee was given;
	// below skipTo the dissector needs them only counted
	// (dissect.Skipper), so tee queues their count, not a copy. fed (the
	// feeder's goroutine only) counts the bytes the dissector was given.
	queued, skipTo [2]int64
	fed            [2]int64
}

func dirIndex(d event.Direction) int {
	if d == event.Up {
		return 0
	}
	return 1
}

func newFeeder(flowID uint64, name string, s dissect.Stream, d dissect.Datagrams, emit event.Handler) *feeder {
	f := &feeder{stream: s, dgrams: d, emit: emit, flowID: flowID, name: name, done: make(chan struct{})}
	f.cond = sync.NewCond(&f.mu)
	go f.run()
	return f
}

// tee queues a copy of b. It never blocks on the dissector.
func (f *feeder) tee(dir event.Direction, b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || f.behind {
		return
	}
	t, i := time.Now(), dirIndex(dir)
	off := f.queued[i]
	f.queued[i] += int64(len(b))
	if k := min(int64(len(b)), f.skipTo[i]-off); k > 0 {
		b = b[k:]
		// A count needs no hurry: it joins the count before it, and the
		// dissector is woken by the next bytes it must see (or the end).
		if n := len(f.queue); n > 0 && f.queue[n-1].skip > 0 && f.queue[n-1].dir == dir {
			f.queue[n-1].skip += k
			f.queue[n-1].t = t
		} else {
			f.queue = append(f.queue, chunk{dir: dir, skip: k, t: t})
		}
		if len(b) == 0 {
			return
		}
	}
	if f.backlog+len(b) > maxBacklog {
		// Only bytes to copy count: counts cost the queue nothing.
		f.behind = true
		f.queue = nil
		f.cond.Signal()
		return
	}
	f.backlog += len(b)
	f.queue = append(f.queue, chunk{dir: dir, b: append([]byte(nil), b...), t: t})
	f.cond.Signal()
}

// close ends the feed and waits (bounded) until the dissector has
// emitted everything.
func (f *feeder) close() {
	f.mu.Lock()
	f.closed = true
	f.cond.Signal()
	f.mu.Unlock()
	select {
	case <-f.done:
	case <-time.After(feedTimeout):
	}
}

func (f *feeder) run() {
	defer close(f.done)
	failed := false
	for {
		f.mu.Lock()
		for len(f.queue) == 0 && !f.closed && !f.behind {
			f.cond.Wait()
		}
		q, closed, behind := f.queue, f.closed, f.behind
		f.queue = nil
		f.mu.Unlock()

		for _, c := range q {
			if failed {
				break
			}
			if err := f.feed(c); err != nil {
				failed = true
			}
			f.mu.Lock()
			f.backlog -= len(c.b)
			f.mu.Unlock()
		}
		if behind && !failed {
			failed = true
			f.emit(&event.Unparsed{FlowID: f.flowID, Time: time.Now(), Dissector: f.name,
				Reason: "the dissector fell behind the traffic; the flow goes on undissected"})
		}
		if closed || behind {
			f.finish()
			return
		}
	}
}

// feed hands one chunk to the dissector, turning a panic into an error:
// a dissector's bug must not take htapod down.
func (f *feeder) feed(c chunk) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errPanic
			f.emit(&event.Unparsed{FlowID: f.flowID, Time: time.Now(), Dissector: f.name,
				Reason: "dissector failed (bug): " + panicText(r)})
		}
	}()
	if f.stream == nil {
		return f.dgrams.Datagram(c.dir, c.b, c.t)
	}
	sk, _ := f.stream.(dissect.Skipper)
	i := dirIndex(c.dir)
	if c.skip > 0 {
		sk.Skip(c.dir, c.skip, c.t)
		f.fed[i] += c.skip
	} else {
		if err := f.stream.Data(c.dir, c.b, c.t); err != nil {
			return err
		}
		f.fed[i] += int64(len(c.b))
	}
	if sk != nil {
		if n := sk.Skippable(c.dir); n > 0 {
			to := f.fed[i] + min(n, math.MaxInt64-f.fed[i])
			f.mu.Lock()
			f.skipTo[i] = max(f.skipTo[i], to)
			f.mu.Unlock()
		}
	}
	return nil
}

func (f *feeder) finish() {
	defer func() { recover() }()
	now := time.Now()
	if f.stream != nil {
		f.stream.End(event.Up, now)
		f.stream.End(event.Down, now)
		f.stream.Close(now)
		return
	}
	f.dgrams.Close(now)
}

// feeders are the dissectors and sniffers of one flow, each on its own
// queue: one that blocks or falls behind costs the others nothing.
type feeders []*feeder

// tee returns a Tee that queues to every feeder, or nil for none.
func (fs feeders) tee() Tee {
	switch len(fs) {
	case 0:
		return nil
	case 1:
		return fs[0].tee
	}
	return func(dir event.Direction, b []byte) {
		for _, f := range fs {
			f.tee(dir, b)
		}
	}
}

// close ends every feed and waits for them together (bounded).
func (fs feeders) close() {
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Add(1)
		go func() { defer wg.Done(); f.close() }()
	}
	wg.Wait()
}
