package relay

import (
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

type chunk struct {
	dir event.Direction
	b   []byte
	t   time.Time
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
	if f.backlog+len(b) > maxBacklog {
		f.behind = true
		f.queue = nil
		f.cond.Signal()
		return
	}
	f.backlog += len(b)
	f.queue = append(f.queue, chunk{dir: dir, b: append([]byte(nil), b...), t: time.Now()})
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
	if f.stream != nil {
		return f.stream.Data(c.dir, c.b, c.t)
	}
	return f.dgrams.Datagram(c.dir, c.b, c.t)
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
