package htapod_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"github.com/htapod/htapod"
	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/route"
)

// The seed's shape: the host's loopback reachable at 10.10.10.10, TLS
// intercepted everywhere but port 80, SMTP refused, every event handed to
// a function of the program's own.
func Example() {
	// In main, before anything else: htapod re-executes this binary as the
	// box's init, and Init is where that copy takes over.
	htapod.Init()

	r := htapod.New(
		htapod.WithNamespaces(htapod.AllNamespaces),
		htapod.WithTCPRouter(route.MatchAddress(netip.MustParseAddr("10.10.10.10"), netip.MustParseAddr("127.0.0.1"),
			route.ByPort(route.ForwardWithTLS).Plain(80).Deny(25))),
		htapod.WithEventHandler(func(e event.Event) {
			if h, ok := e.(*event.HTTP); ok && h.Phase == event.PhaseDone {
				fmt.Println(h.Method, h.URL(), h.Status)
			}
		}),
	)
	status, err := r.Run(context.Background(), "curl", "-s", "https://www.lab.test/")
	if err != nil {
		fmt.Fprintln(os.Stderr, err, htapod.Hint(err))
		os.Exit(125)
	}
	os.Exit(status.Code)
}

// A sniffer of one's own sees each flow's plaintext, from a queue of its
// own: it can be slow without slowing the command.
func ExampleWithTCPSniffer() {
	var total atomic.Int64 // flows are sniffed concurrently
	count := htapod.TCPSnifferFunc(func(meta dissect.Meta) dissect.Stream {
		return streamFunc(func(_ event.Direction, b []byte, _ time.Time) error {
			total.Add(int64(len(b)))
			return nil
		})
	})
	r := htapod.New(htapod.WithTCPSniffer(count), htapod.WithReport(os.Stderr))
	_, _ = r.Run(context.Background(), "wget", "-q", "-O", "/dev/null", "http://www.lab.test/")
	fmt.Println(total.Load(), "bytes of plaintext")
}

// streamFunc is a minimal dissect.Stream.
type streamFunc func(dir event.Direction, b []byte, t time.Time) error

func (f streamFunc) Data(dir event.Direction, b []byte, t time.Time) error { return f(dir, b, t) }
func (streamFunc) End(event.Direction, time.Time)                          {}
func (streamFunc) Close(time.Time)                                         {}
