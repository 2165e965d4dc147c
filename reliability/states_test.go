package reliability

import (
	"maps"
	"strconv"
	"testing"
	"time"

	"github.com/htapod/htapod/internal/lab"
)

// TestTCPStatesUnderLoad keeps 50 connections transferring through htapod
// and meanwhile checks, 20 times each, that a half-close (by the client and
// by the server), a reset (by the server and by the client) and a refused
// port look to both ends as they do without htapod, and that refused comes
// promptly.
func TestTCPStatesUnderLoad(t *testing.T) {
	e := newEnv(t)
	const rounds, conns = 20, 50
	e.serveEcho(addr(portEcho))
	rev := e.serveRevHalf(addr(portRevHalf))
	rst := e.serveRstSink(addr(portRstSink))
	e.ServeReset(addr(portReset))
	argv := []string{e.client, "states", "-load", addr(portEcho), "-conns", strconv.Itoa(conns),
		"-echo", net7(), "-rev", addr(portRevHalf), "-reset", addr(portReset),
		"-rstsink", addr(portRstSink), "-refused", addr(portRefused),
		"-rounds", strconv.Itoa(rounds), "-limit", "2m"}

	// What a client sees without htapod is the reference; it must also be
	// what TCP promises, or the harness is wrong.
	want := map[string]map[string]string{
		"halfclose": {"ok": strconv.Itoa(rounds)},
		"revhalf":   {"ok": strconv.Itoa(rounds)},
		"reset":     {"reset": strconv.Itoa(rounds)},
		"rstsent":   {"ok": strconv.Itoa(rounds)},
		"refused":   {"refused": strconv.Itoa(rounds)},
	}
	wantServer := map[string]map[string]int{
		"revhalf": {"ok": rounds},
		"rstsink": {"reset": rounds},
	}
	direct := e.runDirect(3*time.Minute, lab.RunOptions{}, argv...)
	checkStates(t, "without htapod", direct, want, wantServer, rev, rst)

	events := e.path("events.jsonl")
	res := e.runTap(3*time.Minute, lab.RunOptions{}, []string{"--json", "-o", events}, argv...)
	checkStates(t, "through htapod", res, want, wantServer, rev, rst)
	if ms, err := strconv.ParseFloat(fields(res.Stdout, "refused")["max_ms"], 64); err != nil || ms > 1000 {
		t.Errorf("through htapod a refused connect took up to %s ms; want under 1000", fields(res.Stdout, "refused")["max_ms"])
	}
	t.Logf("without htapod: %s, refused in at most %s ms; through htapod: %s, refused in at most %s ms",
		fields(direct.Stdout, "load")["rounds"]+" load rounds", fields(direct.Stdout, "refused")["max_ms"],
		fields(res.Stdout, "load")["rounds"]+" load rounds", fields(res.Stdout, "refused")["max_ms"])

	evs, err := readJSONLines(events)
	if err != nil {
		t.Fatalf("htapod's JSON: %v", err)
	}
	reported := []struct {
		dst  string
		n    int
		ends map[string]int
	}{
		{net7(), rounds, map[string]int{"closed": rounds}},
		{addr(portRevHalf), rounds, map[string]int{"closed": rounds}},
		{addr(portReset), rounds, map[string]int{"reset": rounds}},
		{addr(portRstSink), rounds, map[string]int{"reset": rounds}},
		{addr(portRefused), rounds, map[string]int{"refused": rounds}},
		{addr(portEcho), conns, map[string]int{"closed": conns}},
	}
	for _, r := range reported {
		if got := endings(flowsTo(evs, "tcp", r.dst)); !maps.Equal(got, r.ends) {
			t.Errorf("htapod reported the flows to %s as %v; want %v", r.dst, got, r.ends)
		}
	}
}

// net7 is the lab's half-close echo server.
func net7() string { return addr(7) }

// checkStates checks one run of relclient states: every check line and
// the servers' tallies as wanted, and the load complete.
func checkStates(t *testing.T, how string, res lab.Result, want map[string]map[string]string,
	wantServer map[string]map[string]int, rev, rst *tally) {
	t.Helper()
	if res.ExitCode != 0 {
		t.Fatalf("%s: relclient states: %v", how, res)
	}
	for check, w := range want {
		got := fields(res.Stdout, check)
		delete(got, "max_ms")
		if !maps.Equal(got, w) {
			t.Errorf("%s: %s: %v; want %v", how, check, got, w)
		}
	}
	servers := map[string]map[string]int{"revhalf": rev.take(), "rstsink": rst.take()}
	for name, w := range wantServer {
		if !maps.Equal(servers[name], w) {
			t.Errorf("%s: the %s server saw %v; want %v", how, name, servers[name], w)
		}
	}
	load := fields(res.Stdout, "load")
	if load["ok"] != load["conns"] || load["first_err"] != "" {
		t.Errorf("%s: the load: %v; want every connection complete", how, load)
	}
	if t.Failed() {
		t.Logf("%s: %v", how, res)
	}
}
