package main

import (
	"bufio"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// harFlushEvery bounds what a killed htapod loses from its HAR file.
const harFlushEvery = 2 * time.Second

// flushEvery calls flush on a timer and when htapod is asked to stop
// (SIGINT, SIGTERM, SIGHUP — which the box also forwards to the command),
// so that the file on disk is complete and valid up to then even if
// htapod is killed afterwards. The returned func stops it.
func flushEvery(flush func() error) (stop func()) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(harFlushEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				flush()
			case <-sigs:
				flush()
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}

// reportFlushEvery bounds how long a report or JSON line waits in memory.
const reportFlushEvery = 100 * time.Millisecond

// timedWriter buffers writes to a file and flushes them every
// reportFlushEvery and on Close: a busy run (100,000 requests a second)
// costs one write call per flush, not one per line. Writes of whole lines
// stay whole. It has no Flush method on purpose: sinks that flush after
// every line when they can would undo the buffering.
type timedWriter struct {
	mu   sync.Mutex
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

func newTimedWriter(f io.Writer) *timedWriter {
	t := &timedWriter{w: bufio.NewWriterSize(f, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(t.done)
		tick := time.NewTicker(reportFlushEvery)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				t.mu.Lock()
				t.w.Flush()
				t.mu.Unlock()
			case <-t.stop:
				return
			}
		}
	}()
	return t
}

func (t *timedWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.w.Write(p)
}

// Close flushes what is left and stops the timer. It does not close the
// file.
func (t *timedWriter) Close() error {
	close(t.stop)
	<-t.done
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.w.Flush()
}
