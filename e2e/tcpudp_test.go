package e2e

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/htapod/htapod/internal/lab"
)

// echo is the address of the lab's TCP and UDP echo servers.
var echo = net.JoinHostPort(lab.WWW4, "7")

// TestTCPHalfClose sends data, shuts down the sending side and still
// expects the whole echo: the lab's echo server answers only after EOF, so
// a relay that does not pass a half-close on in both directions hangs or
// loses the answer.
func TestTCPHalfClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	data := lab.Pattern(100_000)
	tests := []struct {
		name string
		argv []string
	}{
		{"socat", []string{"socat", "-t", "10", "-", "TCP:" + echo}},
		{"nc -N", []string{"nc", "-N", "-w", "10", lab.WWW4, "7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.htapodOpts(lab.RunOptions{Stdin: data}, append([]string{"--"}, tt.argv...)...)
			if res.ExitCode != 0 {
				t.Fatalf("htapod -- %q: %v; want exit 0", tt.argv, res)
			}
			if !bytes.Equal(res.Stdout, data) {
				t.Errorf("htapod -- %q: echo has %d bytes; want the %d sent", tt.argv, len(res.Stdout), len(data))
			}
			wantFlow(t, string(res.Stderr), "tcp", []string{echo}, "closed")
		})
	}
}

// TestUDPEcho checks a UDP request and its response.
func TestUDPEcho(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	msg := []byte("ping from inside htapod\n")
	res := e.htapodOpts(lab.RunOptions{Stdin: msg}, "--", "socat", "-t", "2", "-", "UDP:"+echo)
	if res.ExitCode != 0 || !bytes.Equal(res.Stdout, msg) {
		t.Fatalf("htapod -- socat - UDP:%s: %v; want exit 0 and %q", echo, res, msg)
	}
	wantFlow(t, string(res.Stderr), "udp", []string{echo}, "closed", "idle")
}

// TestTCPPortReused: a client that connects again from the port of a
// connection the server closed first connects at once, as it does
// directly (a kernel may pick such a port again at once under load;
// socat's sourceport here). gVisor's TIME-WAIT dropped the SYNs of such a
// connection for 60 s: the second connect timed out.
func TestTCPPortReused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// HTTP/1.0: the server closes first. stdin stays open a while, so
	// that socat sends no FIN before the server's.
	get := `(printf 'GET / HTTP/1.0\r\n\r\n'; sleep 1) | socat -t 5 - TCP:` + lab.WWW4 +
		`:80,sourceport=40777,reuseaddr,connect-timeout=5 | head -n 1`
	twice := func(res lab.Result) bool {
		lines := strings.Split(strings.TrimSpace(string(res.Stdout)), "\n")
		return res.ExitCode == 0 && len(lines) == 2 && strings.HasPrefix(lines[1], "HTTP/1.0 200")
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	if res := e.Run(ctx, lab.RunOptions{}, "sh", "-c", get+"; "+get); !twice(res) {
		t.Fatalf("directly, two connections from port 40777: %v; want two responses", res)
	}
	if res := e.htapod("--", "sh", "-c", get+"; "+get); !twice(res) {
		t.Fatalf("through htapod, two connections from port 40777: %v; want two responses", res)
	}
}

// TestConnectFailures checks that a refused or unreachable destination
// fails the client promptly, as it would without htapod, and is reported as
// such.
func TestConnectFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name    string
		url     string
		dest    string
		end     string
		maxTime time.Duration
		stderr  string // curl -v must say this
	}{
		{"refused", "http://" + lab.WWW4 + ":81/", lab.WWW4 + ":81", "refused", 2 * time.Second, "Connection refused"},
		{"unreachable", "http://" + lab.Unreachable4 + "/", lab.Unreachable4 + ":80", "unreachable", 5 * time.Second, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// curl's own clock leaves htapod's start-up out of the time.
			argv := []string{"curl", "-v", "-sS", "--connect-timeout", "15", "-o", "/dev/null",
				"-w", `%{time_total}\n`, tt.url}
			res := e.htapod(append([]string{"--"}, argv...)...)
			if res.ExitCode != 7 {
				t.Fatalf("htapod -- %q: %v; want exit 7 (curl: could not connect)", argv, res)
			}
			secs, err := strconv.ParseFloat(strings.TrimSpace(string(res.Stdout)), 64)
			if err != nil {
				t.Fatalf("curl -w time_total printed %q: %v", res.Stdout, err)
			}
			if took := time.Duration(secs * float64(time.Second)); took > tt.maxTime {
				t.Errorf("curl %s failed after %v; want at most %v", tt.url, took, tt.maxTime)
			}
			if !strings.Contains(string(res.Stderr), tt.stderr) {
				t.Errorf("curl -v %s: stderr lacks %q:\n%s", tt.url, tt.stderr, res.Stderr)
			}
			wantFlow(t, string(res.Stderr), "tcp", []string{tt.dest}, tt.end)
		})
	}
}

// TestReset checks that a reset by the server reaches the client as a reset,
// not as an orderly close, and is reported as one.
func TestReset(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	addr := net.JoinHostPort(lab.WWW4, "8081")
	e.ServeReset(addr)
	argv := []string{"curl", "-sS", "--max-time", "10", "http://" + addr + "/"}
	res := e.htapod(append([]string{"--"}, argv...)...)
	// curl: 56 is "failure in receiving network data" (the reset); 52,
	// "empty reply", would mean the reset became a FIN.
	if res.ExitCode != 56 || !strings.Contains(string(res.Stderr), "reset by peer") {
		t.Errorf("htapod -- %q: %v; want exit 56 and \"reset by peer\"", argv, res)
	}
	wantFlow(t, string(res.Stderr), "tcp", []string{addr}, "reset")
}
