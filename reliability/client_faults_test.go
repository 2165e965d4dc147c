package reliability

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os/exec"
	"time"
)

// faultMode asks a misbehaving server for a response ("GET\n") and reads
// it until the connection ends or nothing comes for -idle, the way a
// client with a read timeout does:
//
//	fault n=N end=OUTCOME ms=F
//
// end is how the read ended (see outcome), ms the time from the request to
// that end.
func faultMode(fs *flag.FlagSet) func(context.Context) error {
	addr := fs.String("addr", "", "the server")
	idle := fs.Duration("idle", 2*time.Second, "give up after this long without data")
	return func(ctx context.Context) error {
		c, err := dial(ctx, "tcp", *addr, 10*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		start := time.Now()
		if _, err := c.Write([]byte("GET\n")); err != nil {
			return fmt.Errorf("send the request: %w", err)
		}
		var n int64
		buf := make([]byte, 64<<10)
		for {
			c.SetReadDeadline(time.Now().Add(*idle))
			m, err := c.Read(buf)
			n += int64(m)
			if err != nil {
				fmt.Printf("fault n=%d end=%s ms=%.1f\n", n, outcome(err), float64(time.Since(start))/float64(time.Millisecond))
				return nil
			}
		}
	}
}

// lookupMode looks -name up -n times with Go's own resolver and with the
// C library's (getent hosts), and prints how each ended and the longest
// time one took:
//
//	lookup go=OUTCOME go_max_ms=F getent=EXIT getent_max_ms=F
//
// go is "ok" or "error" (the last attempt's); getent is getent's exit
// status (0 found, 2 not found or no answer).
func lookupMode(fs *flag.FlagSet) func(context.Context) error {
	name := fs.String("name", "www.lab.test", "the name to look up")
	n := fs.Int("n", 3, "lookups of each kind")
	return func(ctx context.Context) error {
		r := &net.Resolver{PreferGo: true}
		goEnd, getentEnd := "", -1
		var goMax, getentMax time.Duration
		for range *n {
			start := time.Now()
			_, err := r.LookupHost(ctx, *name)
			goMax = max(goMax, time.Since(start))
			goEnd = "ok"
			if err != nil {
				goEnd = "error"
			}

			start = time.Now()
			err = exec.CommandContext(ctx, "getent", "hosts", *name).Run()
			getentMax = max(getentMax, time.Since(start))
			getentEnd = 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				getentEnd = ee.ExitCode()
			} else if err != nil {
				return fmt.Errorf("run getent: %w", err)
			}
		}
		fmt.Printf("lookup go=%s go_max_ms=%.1f getent=%d getent_max_ms=%.1f\n", goEnd,
			float64(goMax)/float64(time.Millisecond), getentEnd, float64(getentMax)/float64(time.Millisecond))
		return nil
	}
}
