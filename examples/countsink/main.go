// Command countsink runs a command under htapod with an output of its own:
// a sink that counts the HTTP requests made to each host and prints the
// counts when the run closes it.
//
//	go run ./examples/countsink -- curl -s https://example.com/
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"

	"github.com/htapod/htapod"
	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/sink"
)

// counter is a sink.Sink: Handle is called concurrently, Close once at
// the end of the run.
type counter struct {
	w        io.Writer
	mu       sync.Mutex
	requests map[string]int // host → finished requests
}

var _ sink.Sink = (*counter)(nil)

// Handle counts each finished HTTP exchange for its host.
func (c *counter) Handle(e event.Event) {
	h, ok := e.(*event.HTTP)
	if !ok || h.Phase != event.PhaseDone {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests[h.Authority]++
}

// Flush has nothing to write before the end.
func (c *counter) Flush() error { return nil }

// Close prints one line per host, most requests first.
func (c *counter) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	hosts := make([]string, 0, len(c.requests))
	for h := range c.requests {
		hosts = append(hosts, h)
	}
	sort.Slice(hosts, func(i, j int) bool {
		if c.requests[hosts[i]] != c.requests[hosts[j]] {
			return c.requests[hosts[i]] > c.requests[hosts[j]]
		}
		return hosts[i] < hosts[j]
	})
	for _, h := range hosts {
		if _, err := fmt.Fprintf(c.w, "%-30s %d requests\n", h, c.requests[h]); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	htapod.Init() // first: the box's init is this binary, re-executed
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: countsink -- COMMAND [ARGS...]")
		os.Exit(2)
	}
	c := &counter{w: os.Stderr, requests: map[string]int{}}
	status, err := htapod.New(htapod.WithSink(c)).Run(context.Background(), args...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "countsink:", err)
		if status.Code == 0 {
			status.Code = 125
		}
	}
	os.Exit(status.Code)
}
