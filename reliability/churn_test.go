package reliability

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/htapod/htapod/internal/lab"
)

// churnSlack is how far above its starting level htapod may stay after the
// churn: a few descriptors and goroutines that come and go on their own
// (the debug server's connection, a timer).
var churnSlack = usage{FDs: 4, Goroutines: 8}

// TestChurn makes 5,000 short connections through htapod one after
// another (20,000 with -long), each with a request and a response, and
// wants htapod's open files and goroutines back at their starting level a
// few seconds after the last.
func TestChurn(t *testing.T) {
	e := newEnv(t)
	n := scale(5000, 20000)
	e.serveRR(addr(portRR))
	ctx, cancel := context.WithTimeout(context.Background(), scale(3*time.Minute, 8*time.Minute))
	defer cancel()
	events := e.path("events.jsonl")
	p := e.tap(ctx, lab.RunOptions{}, []string{"--json", "-o", events},
		e.client, "churn", "-addr", addr(portRR), "-n", strconv.Itoa(n), "-warm", "20",
		"-sync", e.Home(), "-limit", scale(150*time.Second, 7*time.Minute).String())
	waitOut(t, p, "churn warm=ok", time.Minute)
	// After the warm-up, so that what is made once per run (the
	// netstack's workers, the buffer pools) is part of the start.
	time.Sleep(time.Second)
	before := e.waitUsage(p, 10*time.Second)

	e.touch("go")
	waitOut(t, p, "churn n=", scale(2*time.Minute, 6*time.Minute))
	after, ok := e.settle(p, before, churnSlack, 10*time.Second)
	t.Logf("htapod before %d connections: %v; after: %v", n, before, after)
	if !ok {
		t.Errorf("htapod holds %v 10 s after %d connections; it started with %v (slack %v)", after, n, before, churnSlack)
	}
	e.touch("exit")
	res := p.Wait()
	f := fields(res.Stdout, "churn")
	if res.ExitCode != 0 || atoi(f["ok"]) != int64(n) {
		t.Fatalf("htapod -- relclient churn: %v", res)
	}
	t.Logf("%d connections in %s", n, f["elapsed"])

	evs, err := readJSONLines(events)
	if err != nil {
		t.Fatalf("htapod's JSON: %v", err)
	}
	flows := flowsTo(evs, "tcp", addr(portRR))
	if ends := endings(flows); len(flows) != n+20 || ends["closed"] != n+20 {
		t.Errorf("htapod reported %d flows to %s, ended %v; want %d closed", len(flows), addr(portRR), ends, n+20)
	}
}
