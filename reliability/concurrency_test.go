package reliability

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/htapod/htapod/internal/lab"
)

// TestConcurrentConnections holds 2,000 connections through htapod open
// at once, does a request and response on each, and wants all of them to
// complete, and the server to have seen all 2,000 open together. htapod
// starts with a soft limit of 1,024 open files, what most login sessions
// give; it must cope (raise its own limit) or say so.
//
// The client closes each connection as a careful client does (its FIN,
// then the server's awaited: -graceful), so every connection has ended
// both ways before the command exits, and every flow must be reported
// closed. A client that exits with 2,000 closes still in flight leaves
// them to htapod's drain after the command, which is bounded in time (and
// reports "aborted" what it cut): on a loaded machine that measured the
// machine, not htapod. A FIN htapod loses still fails the client.
func TestConcurrentConnections(t *testing.T) {
	e := newEnv(t)
	const n = 2000
	srv := e.serveRR(addr(portRR))

	lim := e.runDirect(10*time.Second, lab.RunOptions{}, "sh", "-c", "ulimit -Sn; ulimit -Hn")
	words := strings.Fields(string(lim.Stdout))
	if lim.ExitCode != 0 || len(words) != 2 {
		t.Fatalf("ulimit -n as %s: %v", lab.UserName, lim)
	}
	t.Logf("%s's open-file limits: soft %s, hard %s", lab.UserName, words[0], words[1])
	hard := words[1]
	if h, err := strconv.Atoi(hard); err == nil && h < n+200 {
		t.Fatalf("the hard limit of open files is %d: too low for %d connections through htapod "+
			"(raise it in /etc/security/limits.conf or the service manager)", h, n)
	}

	argv := []string{e.client, "conns", "-addr", addr(portRR), "-n", strconv.Itoa(n), "-graceful", "-limit", "2m"}
	direct := e.runDirect(3*time.Minute, lab.RunOptions{}, argv...)
	if f := wantFields(t, direct, "conns"); direct.ExitCode != 0 || atoi(f["ok"]) != n || srv.peak.Load() != n {
		t.Fatalf("without htapod: %v\nserver: %d open at once; want %d", direct, srv.peak.Load(), n)
	}
	srv.peak.Store(0)

	events := e.path("events.jsonl")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// prlimit sets the limits and execs htapod: the PID stays htapod's.
	args := []string{"prlimit", "--nofile=1024:" + hard, e.bin, "--json", "-o", events, "--"}
	start := time.Now()
	p := e.Start(ctx, lab.RunOptions{}, append(args, argv...)...)
	waitOut(t, p, "opened n=", 2*time.Minute)
	t.Logf("htapod's open-file limit with the connections open: %s", noFileLimit(p.Cmd.Process.Pid))
	res := p.Wait()
	took := time.Since(start)
	f := fields(res.Stdout, "conns")
	if res.ExitCode != 0 || f == nil || atoi(f["ok"]) != n {
		t.Fatalf("htapod -- relclient conns -n %d (htapod's soft limit 1024): %v\nserver: %d accepted, %d open at once",
			n, res, srv.accepted.Load(), srv.peak.Load())
	}
	if p := srv.peak.Load(); p != n {
		t.Errorf("the server saw %d connections open at once through htapod; want %d", p, n)
	}
	t.Logf("%d connections open at once through htapod, all answered, in %v (client's limit %s)", n, took.Round(time.Millisecond), f["nofile"])

	evs, err := readJSONLines(events)
	if err != nil {
		t.Fatalf("htapod's JSON: %v", err)
	}
	flows := flowsTo(evs, "tcp", addr(portRR))
	if ends := endings(flows); len(flows) != n || ends["closed"] != n {
		t.Errorf("htapod reported %d flows to %s, ended %v; want %d closed", len(flows), addr(portRR), ends, n)
	}
}

// noFileLimit returns the "Max open files" line of /proc/PID/limits.
func noFileLimit(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return err.Error()
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "Max open files") {
			return strings.Join(strings.Fields(line), " ")
		}
	}
	return "no Max open files in /proc/PID/limits"
}
