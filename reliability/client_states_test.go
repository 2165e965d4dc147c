package reliability

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/htapod/htapod/internal/lab"
)

// statesMode keeps -conns connections transferring to a full-duplex echo
// server and meanwhile, -rounds times, checks what a client sees of a
// half-close, a reset and a refused port. It prints one line per check,
// with how often each outcome (see outcome) happened, and the load's
// result:
//
//	halfclose ok=N             client half-closes first (-echo)
//	revhalf ok=N               server half-closes first (-rev)
//	reset reset=N              server resets after the request (-reset)
//	rstsent ok=N               client resets mid-upload (-rstsink)
//	refused refused=N max_ms=F (-refused)
//	load conns=N ok=N rounds=N bytes=N first_err="..."
func statesMode(fs *flag.FlagSet) func(context.Context) error {
	load := fs.String("load", "", "the full-duplex echo server for the load")
	nconns := fs.Int("conns", 50, "loaded connections")
	echo := fs.String("echo", "", "the half-close echo server (answers after EOF)")
	rev := fs.String("rev", "", "the server that half-closes first")
	reset := fs.String("reset", "", "the server that resets after the request")
	rstsink := fs.String("rstsink", "", "the server that reads until the client resets")
	refused := fs.String("refused", "", "an address where nothing listens")
	rounds := fs.Int("rounds", 10, "rounds of the checks")
	return func(ctx context.Context) error {
		l := startLoad(ctx, *load, *nconns)
		if err := l.waitActive(ctx); err != nil {
			l.stop()
			return err
		}
		counts := map[string]map[string]int{}
		note := func(check, out string) {
			if counts[check] == nil {
				counts[check] = map[string]int{}
			}
			counts[check][out]++
		}
		var maxRefused time.Duration
		for range *rounds {
			note("halfclose", checkHalfClose(ctx, *echo))
			note("revhalf", checkRevHalf(ctx, *rev))
			note("reset", checkReset(ctx, *reset))
			note("rstsent", checkRstSent(ctx, *rstsink))
			out, took := checkRefused(ctx, *refused)
			note("refused", out)
			maxRefused = max(maxRefused, took)
		}
		for _, check := range []string{"halfclose", "revhalf", "reset", "rstsent", "refused"} {
			var words []string
			for _, out := range slices.Sorted(maps.Keys(counts[check])) {
				words = append(words, fmt.Sprintf("%s=%d", out, counts[check][out]))
			}
			if check == "refused" {
				words = append(words, fmt.Sprintf("max_ms=%.1f", float64(maxRefused)/float64(time.Millisecond)))
			}
			fmt.Printf("%s %s\n", check, strings.Join(words, " "))
		}
		res := l.stop()
		fmt.Println(res)
		return nil
	}
}

// checkHalfClose sends 256 kB to the lab's echo server, which answers only
// after the client's FIN, and expects them back whole.
func checkHalfClose(ctx context.Context, addr string) string {
	c, err := dial(ctx, "tcp", addr, 10*time.Second)
	if err != nil {
		return "dial-" + outcome(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	data := lab.Pattern(256 << 10)
	if _, err := c.Write(data); err != nil {
		return "write-" + outcome(err)
	}
	if err := closeWrite(c); err != nil {
		return "closewrite-" + outcome(err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		return "read-" + outcome(err)
	}
	if !bytes.Equal(got, data) {
		return fmt.Sprintf("short-%d", len(got))
	}
	return "ok"
}

// revHalfSize is what the server that half-closes first sends, and then
// expects back.
const revHalfSize = 128 << 10

// checkRevHalf reads what the server sends before its FIN, then sends the
// same back and half-closes; the server counts the sessions that came back
// whole (revHalfServer), and closes.
func checkRevHalf(ctx context.Context, addr string) string {
	c, err := dial(ctx, "tcp", addr, 10*time.Second)
	if err != nil {
		return "dial-" + outcome(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		return "read-" + outcome(err)
	}
	if !bytes.Equal(got, lab.Pattern(revHalfSize)) {
		return fmt.Sprintf("short-%d", len(got))
	}
	// The server's FIN came; our side is still open for sending.
	if _, err := c.Write(got); err != nil {
		return "write-" + outcome(err)
	}
	if err := closeWrite(c); err != nil {
		return "closewrite-" + outcome(err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		return "end-" + outcome(err)
	}
	return "ok"
}

// checkReset sends a request to the lab's resetting server and names what
// the read saw: "reset" is right, "eof" means the reset became a FIN.
func checkReset(ctx context.Context, addr string) string {
	c, err := dial(ctx, "tcp", addr, 10*time.Second)
	if err != nil {
		return "dial-" + outcome(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.0\r\n\r\n"); err != nil {
		return "write-" + outcome(err)
	}
	_, err = io.ReadAll(c)
	return outcome(err)
}

// checkRstSent uploads 64 kB and then aborts the connection (SO_LINGER 0):
// the server (rstSinkServer) records whether it saw the reset.
func checkRstSent(ctx context.Context, addr string) string {
	c, err := dial(ctx, "tcp", addr, 10*time.Second)
	if err != nil {
		return "dial-" + outcome(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write(lab.Pattern(64 << 10)); err != nil {
		c.Close()
		return "write-" + outcome(err)
	}
	// The server answers "got" when all of it arrived, so the reset
	// cannot overtake the data.
	buf := make([]byte, 3)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "got" {
		c.Close()
		return "ack-" + outcome(err)
	}
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
	return "ok"
}

// checkRefused connects where nothing listens and names the outcome, with
// how long it took.
func checkRefused(ctx context.Context, addr string) (string, time.Duration) {
	start := time.Now()
	c, err := dial(ctx, "tcp", addr, 10*time.Second)
	took := time.Since(start)
	if err == nil {
		c.Close()
	}
	return outcome(err), took
}

// A load is -conns connections exchanging 32 kB ping-pongs with a
// full-duplex echo server until stopped.
type load struct {
	stopping atomic.Bool
	active   sync.WaitGroup // done when every connection did a round
	wg       sync.WaitGroup
	conns    int
	rounds   atomic.Int64
	bytes    atomic.Int64
	ok       atomic.Int64
	mu       sync.Mutex
	firstErr error
}

func startLoad(ctx context.Context, addr string, n int) *load {
	l := &load{conns: n}
	l.active.Add(n)
	for i := range n {
		l.wg.Go(func() { l.run(ctx, addr, i) })
	}
	return l
}

func (l *load) fail(err error) {
	l.mu.Lock()
	if l.firstErr == nil {
		l.firstErr = err
	}
	l.mu.Unlock()
}

// run is the body of one loaded connection.
func (l *load) run(ctx context.Context, addr string, i int) {
	var once sync.Once
	defer once.Do(l.active.Done)
	c, err := dial(ctx, "tcp", addr, 10*time.Second)
	if err != nil {
		l.fail(fmt.Errorf("load %d: %w", i, err))
		return
	}
	defer c.Close()
	gen := newStream(fmt.Sprint("load", i))
	out, in := make([]byte, 32<<10), make([]byte, 32<<10)
	for !l.stopping.Load() && ctx.Err() == nil {
		c.SetDeadline(time.Now().Add(20 * time.Second))
		gen.Read(out)
		if _, err := c.Write(out); err != nil {
			l.fail(fmt.Errorf("load %d: %w", i, err))
			return
		}
		if _, err := io.ReadFull(c, in); err != nil {
			l.fail(fmt.Errorf("load %d: %w", i, err))
			return
		}
		if !bytes.Equal(in, out) {
			l.fail(fmt.Errorf("load %d: the echo differs", i))
			return
		}
		l.rounds.Add(1)
		l.bytes.Add(int64(len(in)))
		once.Do(l.active.Done)
	}
	if err := closeWrite(c); err != nil {
		l.fail(fmt.Errorf("load %d: half-close: %w", i, err))
		return
	}
	if rest, err := io.ReadAll(c); err != nil || len(rest) > 0 {
		l.fail(fmt.Errorf("load %d: after the half-close: %d bytes, %v", i, len(rest), err))
		return
	}
	l.ok.Add(1)
}

// waitActive waits until every connection has done a round (or failed).
func (l *load) waitActive(ctx context.Context) error {
	done := make(chan struct{})
	go func() { l.active.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("the load did not start: %w", ctx.Err())
	}
}

// stop ends the load and returns its result line.
func (l *load) stop() string {
	l.stopping.Store(true)
	l.wg.Wait()
	return fmt.Sprintf("load conns=%d ok=%d rounds=%d bytes=%d first_err=%q",
		l.conns, l.ok.Load(), l.rounds.Load(), l.bytes.Load(), errText(l.firstErr))
}
