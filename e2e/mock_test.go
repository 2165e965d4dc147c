package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/htapod/htapod/internal/lab"
)

// TestMock answers one URL from a --mock rule while the others reach the
// lab's servers, over TLS (h2) and plain HTTP, and with a body file.
func TestMock(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	e.WriteFile("users.json", []byte(`[{"name":"ada"}]`), 0o644)
	r := e.tap(lab.RunOptions{}, "--mock", `~u /data.json=200:{"mocked":true}`, "--mock", "~u /users=201:@users.json",
		"--", "sh", "-c", `curl -sS --max-time 10 https://www.lab.test/data.json; echo
curl -sS --max-time 10 https://www.lab.test/new
curl -sS --max-time 10 -w ' %{http_code} %{content_type}\n' http://www.lab.test/users
curl -sS --max-time 10 http://www.lab.test/`)
	want := `{"mocked":true}` + "\n" + lab.NewPage + `[{"name":"ada"}] 201 application/json` + "\n" + lab.IndexHTML
	if r.ExitCode != 0 || string(r.Stdout) != want {
		t.Fatalf("stdout = %q; want %q: %v", r.Stdout, want, r)
	}
	if n := strings.Count(string(r.Stderr), "[mock]"); n != 2 {
		t.Errorf("report marks %d exchanges as mocked; want 2:\n%s", n, r.Stderr)
	}
}

// TestFaults observes each --fault action from the client: the time it
// took, the error it got, the status.
func TestFaults(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	tests := []struct {
		name  string
		fault string
		url   string
		// curl's exit code, its -w output, and a lower bound of the time.
		exit    int
		written string
		minTime time.Duration
	}{
		{"status", "~u /new=status:503", labURL(443, "/new"), 0, "503", 0},
		{"delay", "~d www.lab.test=delay:1500ms", labURL(443, "/new"), 0, "200", 1500 * time.Millisecond},
		{"timeout", "~u /new=timeout", labURL(443, "/new"), 28, "000", 4 * time.Second},
		{"reset h1", "~u /bytes=reset", "http://www.lab.test/bytes?n=20000", 56, "200", 0},
		{"throttle", "~u /bytes=throttle:20k", "http://www.lab.test/bytes?n=30000", 0, "200", 1200 * time.Millisecond},
		{"probability", "~u /new=status:503@100%", labURL(443, "/new"), 0, "503", 0},
		{"not matched", "~u /elsewhere=status:503", labURL(443, "/new"), 0, "200", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.tap(lab.RunOptions{}, "--fault", tt.fault, "--", "curl", "-sS", "-o", "/dev/null",
				"--max-time", "4", "-w", "%{http_code} %{time_total}", tt.url)
			code, secs, _ := strings.Cut(string(r.Stdout), " ")
			took, _ := strconv.ParseFloat(secs, 64)
			if r.ExitCode != tt.exit || code != tt.written {
				t.Fatalf("curl exit %d, status %s; want %d, %s: %v", r.ExitCode, code, tt.exit, tt.written, r)
			}
			if d := time.Duration(took * float64(time.Second)); d < tt.minTime {
				t.Errorf("curl took %v; want at least %v", d, tt.minTime)
			}
			if tt.name != "not matched" && !strings.Contains(string(r.Stderr), "[fault ") {
				t.Errorf("report does not mark the fault:\n%s", r.Stderr)
			}
		})
	}
}

// TestRulesLeaveOtherProtocols runs gRPC (h2 over TLS, and h2c) and
// WebSocket (ws, wss) clients with a fault rule that matches none of their
// requests: the flows go through htapod's HTTP server and still work —
// trailers, upgrades and all — and their messages are still reported.
func TestRulesLeaveOtherProtocols(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	e.StartGRPC()
	e.StartWebSocket()
	client := lab.Client(t)
	tests := []struct {
		name   string
		argv   []string
		stdout string
		report string // a line the report must have
	}{
		{"grpc tls", []string{client, "grpc", "-tls", "www.lab.test" + port(lab.PortGRPCTLS), ""}, "SERVING\n", "grpc OK"},
		{"grpc h2c", []string{client, "grpc", "www.lab.test" + port(lab.PortGRPCH2C), ""}, "SERVING\n", "grpc OK"},
		{"ws", []string{client, "ws", "ws://www.lab.test" + port(lab.PortWS) + "/echo", "hello"}, "", "→ websocket"},
		{"wss", []string{client, "ws", "wss://www.lab.test" + port(lab.PortWSS) + "/echo", "hello"}, "", "→ websocket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.tap(lab.RunOptions{}, append([]string{"--fault", "~u /never-requested=status:500", "--"}, tt.argv...)...)
			if r.ExitCode != 0 || (tt.stdout != "" && string(r.Stdout) != tt.stdout) {
				t.Fatalf("%q through htapod with a rule: %v", tt.argv, r)
			}
			if !strings.Contains(string(r.Stderr), tt.report) {
				t.Errorf("report lacks %q:\n%s", tt.report, r.Stderr)
			}
		})
	}
}

// TestRulesActOnGRPC puts a fault on gRPC's health check, over TLS (h2)
// and in plaintext (h2c with prior knowledge, whose server sends its
// SETTINGS without waiting for the client): the client gets the 503 as
// gRPC's Unavailable, and the report marks the fault.
func TestRulesActOnGRPC(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	e.StartGRPC()
	client := lab.Client(t)
	for _, tt := range []struct {
		name string
		argv []string
	}{
		{"grpc tls", []string{client, "grpc", "-tls", "www.lab.test" + port(lab.PortGRPCTLS), ""}},
		{"grpc h2c", []string{client, "grpc", "www.lab.test" + port(lab.PortGRPCH2C), ""}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.tap(lab.RunOptions{}, append([]string{"--fault", "~u /grpc.health.v1.Health/Check=status:503", "--"}, tt.argv...)...)
			if r.ExitCode != 3 || !strings.HasPrefix(string(r.Stdout), "Unavailable: unexpected HTTP status code received from server: 503") {
				t.Fatalf("%q through htapod with a fault on its call: %v; want exit 3 and Unavailable for the 503", tt.argv, r)
			}
			if !strings.Contains(string(r.Stderr), "[fault status:503]") {
				t.Errorf("report does not mark the fault:\n%s", r.Stderr)
			}
		})
	}
}

// TestConnectFaults refuses or blackholes the connections to a host,
// whatever they carry: the client fails to connect, at once or after its
// own timeout, and the report says which rule did it.
func TestConnectFaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name, fault string
		exit        int // curl's: 7 could not connect, 28 timed out
		minTime     time.Duration
		maxTime     time.Duration
	}{
		{"refuse by name", "~d www.lab.test=refuse", 7, 0, 2 * time.Second},
		{"refuse by address", "~d 203.0.113.10=refuse", 7, 0, 2 * time.Second},
		{"blackhole", "~d www.lab.test=blackhole", 28, 2 * time.Second, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			r := e.htapod("--fault", tt.fault, "--", "curl", "-sS", "-4", "--connect-timeout", "2", "http://www.lab.test/")
			took := time.Since(start)
			if r.ExitCode != tt.exit {
				t.Fatalf("curl exit %d; want %d: %v", r.ExitCode, tt.exit, r)
			}
			if took < tt.minTime || took > tt.maxTime {
				t.Errorf("took %v; want between %v and %v", took, tt.minTime, tt.maxTime)
			}
			if !strings.Contains(string(r.Stderr), "fault "+strings.SplitN(tt.fault, "=", 2)[1]+": 203.0.113.10:80") {
				t.Errorf("report does not name the fault:\n%s", r.Stderr)
			}
		})
	}
}
