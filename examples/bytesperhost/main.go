// Command bytesperhost runs a command under htapod with a sniffer of its
// own that counts the plaintext bytes each host sent and received, and
// prints the totals when the command has exited.
//
//	go run ./examples/bytesperhost -- curl -s https://example.com/
package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/htapod/htapod"
	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
)

// counter totals bytes per host. It is shared by all flows' streams.
type counter struct {
	mu    sync.Mutex
	bytes map[string][2]int64 // host → up, down
}

// SniffTCP gives every flow a stream that adds to the totals.
func (c *counter) SniffTCP(meta dissect.Meta) dissect.Stream {
	host := meta.Name
	if host == "" {
		host = meta.Dst.Addr().String()
	}
	return &hostStream{c: c, host: host}
}

type hostStream struct {
	c    *counter
	host string
}

func (s *hostStream) Data(dir event.Direction, b []byte, _ time.Time) error {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	t := s.c.bytes[s.host]
	t[dir] += int64(len(b))
	s.c.bytes[s.host] = t
	return nil
}

func (s *hostStream) End(event.Direction, time.Time) {}
func (s *hostStream) Close(time.Time)                {}

func main() {
	htapod.Init() // first: the box's init is this binary, re-executed
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: bytesperhost -- COMMAND [ARGS...]")
		os.Exit(2)
	}
	c := &counter{bytes: map[string][2]int64{}}
	r := htapod.New(htapod.WithTCPSniffer(c))
	status, err := r.Run(context.Background(), args...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bytesperhost:", err)
		os.Exit(125)
	}
	hosts := make([]string, 0, len(c.bytes))
	for h := range c.bytes {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	for _, h := range hosts {
		fmt.Fprintf(os.Stderr, "%-30s ↑%d B ↓%d B\n", h, c.bytes[h][0], c.bytes[h][1])
	}
	os.Exit(status.Code)
}
