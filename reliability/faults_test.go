package reliability

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/htapod/htapod/internal/lab"
)

// Ports of the faulty upstreams on lab.WWW4.
const (
	portDies   = 9301 // serveFault(dies): a reset mid-response
	portSilent = 9302 // serveFault(silent): stops sending, never closes
)

// faultSent is what a faulty upstream sends before its fault: more than
// the socket buffers on the way hold at once, so the fault comes while the
// client is still reading.
const faultSent = 4 << 20

// serveFault runs a server on addr that reads a request line, sends
// faultSent bytes and then, with reset, aborts the connection (SO_LINGER
// 0: a RST, as from a process that crashed or a middlebox that gave up);
// without reset it sends nothing more and neither closes nor resets until
// the test ends (a server that hung, or a peer whose network vanished).
func (e *env) serveFault(addr string, reset bool) {
	e.t.Helper()
	e.serveConns(addr, nil, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(2 * time.Minute))
		if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
			return
		}
		chunk := lab.Pattern(64 << 10)
		for sent := 0; sent < faultSent; sent += len(chunk) {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
		if reset {
			c.(*net.TCPConn).SetLinger(0)
			return // serveConns closes c: a RST
		}
		// Silence: hold the connection without reading or writing until
		// the client goes away or the test ends.
		c.SetDeadline(time.Time{})
		c.Read(make([]byte, 1))
	})
}

// TestUpstreamFaults has the command read a response from an upstream that
// dies mid-response (a RST) and from one that goes silent (no FIN, no
// RST; the command gives up after 2 s without data). Through htapod the
// command must see what it sees directly, the same kind of end, within
// about the same time (generous bounds: this is not a speed test).
func TestUpstreamFaults(t *testing.T) {
	tests := []struct {
		name    string
		port    int
		reset   bool
		wantEnd string
	}{
		{"reset mid-response", portDies, true, "reset"},
		{"silent mid-response", portSilent, false, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.serveFault(addr(tt.port), tt.reset)
			argv := []string{e.client, "fault", "-addr", addr(tt.port), "-idle", "2s", "-limit", "30s"}
			var ends [2]map[string]string
			var took time.Duration
			for i, how := range []string{"without htapod", "through htapod"} {
				var res lab.Result
				if i == 0 {
					res = e.runDirect(time.Minute, lab.RunOptions{}, argv...)
				} else {
					res = e.runTap(time.Minute, lab.RunOptions{}, []string{"-o", e.path("report.txt")}, argv...)
					took = res.Duration
				}
				f := wantFields(t, res, "fault")
				if res.ExitCode != 0 || f["end"] != tt.wantEnd {
					t.Errorf("%s: the client saw %v; want end=%s: %v", how, f, tt.wantEnd, res)
				}
				ends[i] = f
			}
			direct, tapped := ms(ends[0]["ms"]), ms(ends[1]["ms"])
			t.Logf("without htapod: %v; through htapod: %v (htapod's run took %v)", ends[0], ends[1], took.Round(time.Millisecond))
			// The bytes before the fault may arrive in part (a RST can
			// overtake data not yet read), but never more than were sent.
			if n := atoi(ends[1]["n"]); n < 0 || n > faultSent {
				t.Errorf("through htapod the client received %d bytes; the server sent %d", n, faultSent)
			}
			if tapped > direct+1500 || tapped < direct-1500 {
				t.Errorf("through htapod the fault showed after %.0f ms; without htapod after %.0f ms", tapped, direct)
			}
		})
	}
}

// ms parses a client's milliseconds, -1 when it is not a number.
func ms(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return -1
	}
	return f
}

// TestDNSServerDown makes the lab's nameserver unusable, the two ways a
// nameserver goes away: its process dies (the port is closed: ICMP port
// unreachable, TCP refused) or its address disappears (no route). Lookups
// through htapod's resolver must fail as they do directly, with the C
// library's resolver and Go's, and as quickly (the box's resolv.conf keeps
// the host's timeout:2 attempts:2; a resolver that waits for a timeout
// would take 4 s or more per lookup).
func TestDNSServerDown(t *testing.T) {
	tests := []struct {
		name string
		down func(e *env)
	}{
		{"server stopped", func(e *env) { e.DNS().Stop() }},
		{"address removed", func(e *env) {
			if out, err := runIP("-n", e.Name(), "addr", "del", lab.DNS4+"/32", "dev", "lo"); err != nil {
				e.t.Fatalf("remove the nameserver's address: %v: %s", err, out)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tt.down(e)
			argv := []string{e.client, "lookup", "-name", "www.lab.test", "-n", "3", "-limit", "50s"}
			direct := e.runDirect(time.Minute, lab.RunOptions{}, argv...)
			tapped := e.runTap(time.Minute, lab.RunOptions{}, []string{"--json", "-o", e.path("report.txt")}, argv...)
			defer func() {
				if t.Failed() {
					report, _ := os.ReadFile(e.path("report.txt"))
					t.Logf("htapod's report:\n%s", report)
				}
			}()
			fd, ft := wantFields(t, direct, "lookup"), wantFields(t, tapped, "lookup")
			t.Logf("without htapod: %v; through htapod: %v", fd, ft)
			if fd["go"] != "error" || fd["getent"] != "2" {
				t.Fatalf("without htapod the lookups did not fail as expected (a broken harness): %v", direct)
			}
			if ft["go"] != fd["go"] || ft["getent"] != fd["getent"] {
				t.Errorf("through htapod the lookups ended go=%s getent=%s; without htapod go=%s getent=%s",
					ft["go"], ft["getent"], fd["go"], fd["getent"])
			}
			for _, k := range []string{"go_max_ms", "getent_max_ms"} {
				if d, h := ms(fd[k]), ms(ft[k]); h < 0 || h > d+1000 {
					t.Errorf("through htapod a failed lookup took up to %.0f ms (%s); without htapod %.0f ms", h, k, d)
				}
			}
		})
	}
}

// runIP runs ip(8) with args, as root, and returns its combined output.
func runIP(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, "ip", args...).CombinedOutput()
}
