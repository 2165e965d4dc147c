package reliability

import (
	"strconv"
	"testing"
	"time"

	"github.com/htapod/htapod/internal/lab"
)

// TestIntegrity sends a deterministic stream up and down through htapod,
// over plain TCP and over TLS that htapod intercepts (trusting the lab's
// CA upstream), and wants the same SHA-256 on both ends: 256 MiB each way
// in the quick suite, 1 GiB with -long.
func TestIntegrity(t *testing.T) {
	e := newEnv(t)
	n := scale[int64](256<<20, 1<<30)
	timeout := scale(2*time.Minute, 8*time.Minute)
	pki := e.PKI()
	plain := e.serveStream(addr(portStream), nil, timeout)
	overTLS := e.serveStream(addr(portStreamTLS), &pki.Server, timeout)
	tests := []struct {
		name    string
		port    int
		tls     bool
		dir     string
		results <-chan streamResult
	}{
		{"tcp-up", portStream, false, "up", plain},
		{"tcp-down", portStream, false, "down", plain},
		{"tls-up", portStreamTLS, true, "up", overTLS},
		{"tls-down", portStreamTLS, true, "down", overTLS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			argv := []string{e.client, "stream", "-addr", addr(tt.port), "-dir", tt.dir,
				"-n", strconv.FormatInt(n, 10), "-seed", tt.name, "-limit", timeout.String()}
			events := e.path(tt.name + ".jsonl")
			flags := []string{"--json", "-o", events}
			if tt.tls {
				argv = append(argv, "-tls", "-sni", "www.lab.test")
				flags = append(flags, "--upstream-ca", pki.CAFile)
			}
			// The same client without htapod first: the harness's own check.
			direct := e.runDirect(timeout+30*time.Second, lab.RunOptions{}, withCA(argv, tt.tls, pki.CAFile)...)
			checkStream(t, "direct", tt.dir, n, direct, tt.results)

			start := time.Now()
			res := e.runTap(timeout+30*time.Second, lab.RunOptions{}, flags, argv...)
			took := time.Since(start)
			sum := checkStream(t, "htapod", tt.dir, n, res, tt.results)
			t.Logf("%s: %d MiB through htapod in %v (%.0f MB/s with htapod's start), sha256 %s on both ends",
				tt.name, n>>20, took.Round(time.Millisecond), float64(n)/took.Seconds()/1e6, sum)

			evs, err := readJSONLines(events)
			if err != nil {
				t.Fatalf("htapod's JSON: %v", err)
			}
			flows := flowsTo(evs, "tcp", addr(tt.port))
			if len(flows) != 1 || flows[0].str("ended") != "closed" {
				t.Errorf("JSON flows to %s: %v; want one that ended closed", addr(tt.port), flows)
			} else if moved := flows[0].num(tt.dir); moved < float64(n) {
				t.Errorf("the flow reports %.0f bytes %s; want at least %d", moved, tt.dir, n)
			}
			if tt.tls && !intercepted(evs) {
				t.Errorf("no tls event with intercepted true: htapod did not intercept; events: %v", evs)
			}
		})
	}
}

// withCA returns argv with -ca caFile added for a TLS client that runs
// without htapod and must trust the lab's CA itself.
func withCA(argv []string, isTLS bool, caFile string) []string {
	if !isTLS {
		return argv
	}
	return append(append([]string(nil), argv...), "-ca", caFile)
}

// checkStream checks one run of the stream client against the server's
// result of that connection, and returns the hash when they agree.
func checkStream(t *testing.T, how, dir string, n int64, res lab.Result, results <-chan streamResult) string {
	t.Helper()
	var srv streamResult
	select {
	case srv = <-results:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: the server reported nothing; the client: %v", how, res)
	}
	if res.ExitCode != 0 {
		t.Fatalf("%s: relclient stream: %v\nserver: %+v", how, res, srv)
	}
	got := wantFields(t, res, "stream")
	if srv.Err != nil {
		t.Errorf("%s: server: %v", how, srv.Err)
	}
	if atoi(got["n"]) != n || srv.N != n {
		t.Errorf("%s: %s: client %s bytes, server %d; want %d each", how, dir, got["n"], srv.N, n)
	}
	if got["sum"] != srv.Sum {
		t.Fatalf("%s: %s: sha256 client %s, server %s; want them equal", how, dir, got["sum"], srv.Sum)
	}
	return srv.Sum
}

// intercepted reports whether evs hold a tls event of an intercepted flow.
func intercepted(evs []jsonEvent) bool {
	for _, ev := range evs {
		if ev.str("type") == "tls" && ev["intercepted"] == true {
			return true
		}
	}
	return false
}
