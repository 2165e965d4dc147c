package e2e

import (
	"encoding/json"
	"net"
	"os"
	"path"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/htapod/htapod/internal/lab"
)

// exitDenied is htapod's status when the command succeeded and the policy
// denied something.
const exitDenied = 3

// countingServer accepts TCP connections on addr in the lab and counts
// them (closing each at once); a denied flow must never show up here.
func countingServer(t *testing.T, l *lab.Lab, addr string) *atomic.Int64 {
	t.Helper()
	ln := l.Listen("tcp", addr)
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return &n
}

// policyLines are the report's policy lines.
func policyLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "policy  ") {
			out = append(out, l)
		}
	}
	return out
}

// TestPolicyAllowNames: with --allow '*.lab.test', HTTPS to www.lab.test
// goes through, a connection to an address without a name fails at once
// and never reaches its server; the report says which rule and which
// process, and the exit status says a denial happened. With --audit the
// same connection goes through and the same denial is reported.
func TestPolicyAllowNames(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	target := net.JoinHostPort(lab.Plain4, "9")
	accepts := countingServer(t, e.Lab, target)
	script := `curl -sS -o /dev/null -w '%{http_code}\n' https://www.lab.test/; ` +
		`curl -sS --max-time 10 -o /dev/null http://` + target + `/; echo "second=$?"; exit 0`
	tests := []struct {
		name    string
		audit   bool
		second  string // curl's exit status for the denied address
		verb    string
		accepts int64
	}{
		{"enforce", false, "second=7", "denied", 0},          // 7: failed to connect
		{"audit", true, "second=5", "would deny (audit)", 1}, // 52 or 56: the server closed at once
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := accepts.Load()
			args := []string{"--allow", "*.lab.test"}
			if tt.audit {
				args = append(args, "--audit")
			}
			start := time.Now()
			res := e.tap(lab.RunOptions{}, append(args, "--", "sh", "-c", script)...)
			stdout, stderr := string(res.Stdout), string(res.Stderr)
			if res.ExitCode != exitDenied {
				t.Fatalf("exit %d; want %d (a denial): %v", res.ExitCode, exitDenied, res)
			}
			if !strings.HasPrefix(stdout, "200\n") || !strings.Contains(stdout, tt.second) {
				t.Errorf("stdout %q; want 200 for www.lab.test and %s", stdout, tt.second)
			}
			if got := accepts.Load() - before; got != tt.accepts {
				t.Errorf("the server at %s accepted %d connections; want %d", target, got, tt.accepts)
			}
			if d := time.Since(start); !tt.audit && d > 15*time.Second {
				t.Errorf("run took %v: the denied connect did not fail at once", d)
			}
			lines := policyLines(stderr)
			if len(lines) != 1 {
				t.Fatalf("policy lines %q; want one for %s\n%s", lines, target, stderr)
			}
			for _, want := range []string{tt.verb, "tcp " + target, "at connect", "no rule matched", "sh → curl", "http://" + target} {
				if !strings.Contains(lines[0], want) {
					t.Errorf("policy line %q lacks %q", lines[0], want)
				}
			}
			if !strings.Contains(stderr, "policy: ") || !strings.Contains(stderr, "1 destination:\n  tcp "+target) {
				t.Errorf("no end-of-run report naming %s:\n%s", target, stderr)
			}
		})
	}
}

// TestPolicyDNSRefused: a query for a denied name is answered REFUSED by
// htapod's resolver and never reaches the lab's DNS server; an allowed one
// does.
func TestPolicyDNSRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	before := e.DNS().Queries()
	res := e.htapod("--allow", "www.lab.test", "--", "sh", "-c",
		"dig +tries=1 +time=5 denied.example. A; dig +tries=1 +time=5 +short www.lab.test. A; exit 0")
	out := string(res.Stdout)
	if res.ExitCode != exitDenied {
		t.Fatalf("exit %d; want %d: %v", res.ExitCode, exitDenied, res)
	}
	if !strings.Contains(out, "status: REFUSED") || !strings.Contains(out, lab.WWW4) {
		t.Errorf("dig said %q; want REFUSED for denied.example and %s for www.lab.test", out, lab.WWW4)
	}
	if got := e.DNS().Queries() - before; got != 1 {
		t.Errorf("the lab's DNS server saw %d queries; want 1 (www.lab.test only)", got)
	}
	lines := policyLines(string(res.Stderr))
	if len(lines) != 1 || !strings.Contains(lines[0], "dns denied.example") || !strings.Contains(lines[0], "from sh → dig") {
		t.Errorf("policy lines %q; want the refused query with its process", lines)
	}
}

// TestPolicyUDPRefused: a datagram to a denied address is answered as a
// firewall's reject: the client's connected socket gets ECONNREFUSED.
func TestPolicyUDPRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	py := `import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
s.connect(("` + lab.Plain4 + `", 9))
s.send(b"x")
try:
    s.recv(100)
    print("answered")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
`
	res := e.htapod("--deny", "udp:"+lab.Plain4, "--", "python3", "-c", py)
	if strings.TrimSpace(string(res.Stdout)) != "refused" || res.ExitCode != exitDenied {
		t.Fatalf("python3 said %q, exit %d; want refused, %d: %v", res.Stdout, res.ExitCode, exitDenied, res)
	}
	lines := policyLines(string(res.Stderr))
	if len(lines) != 1 || !strings.Contains(lines[0], "udp "+lab.Plain4+":9") || !strings.Contains(lines[0], "deny udp:"+lab.Plain4+" (--deny)") {
		t.Errorf("policy lines %q; want the UDP flow with its rule", lines)
	}
}

// TestPolicySNIDenied: TLS to an allowed address whose ClientHello names a
// host the policy does not allow fails at the handshake, with an alert.
func TestPolicySNIDenied(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	res := e.tap(lab.RunOptions{}, "--allow", "*.lab.test", "--", "curl", "-sS", "--max-time", "10",
		"--connect-to", "evil.example:443:www.lab.test:443", "https://evil.example/")
	stderr := string(res.Stderr)
	if res.ExitCode != 35 || !strings.Contains(stderr, "access denied") {
		t.Fatalf("curl exit %d; want 35 (TLS handshake failed) with an access denied alert: %v", res.ExitCode, res)
	}
	lines := policyLines(stderr)
	if len(lines) == 0 || !strings.Contains(lines[0], "tcp evil.example ("+lab.WWW4+":443)") || !strings.Contains(lines[0], "at tls") ||
		!strings.Contains(lines[0], "domain fronting") {
		t.Errorf("policy lines %q; want the SNI denied at tls, reported as fronting", lines)
	}
}

// TestPolicyFronting: --deny-fronting denies a TLS name that disagrees
// with what the command resolved — the address of a name it looked up
// (www.lab.test) spoken to as another (evil.example), or a name it looked
// up spoken to at an address that is not among its answers — and leaves
// alone a name the command never looked up through htapod, on an address
// no lookup gave (curl --resolve): there is nothing to disagree with; -v
// says it was not checked.
func TestPolicyFronting(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	e.ServeTCPEcho(net.JoinHostPort(lab.Plain4, "443")) // accepts, never speaks first
	lookup := `python3 -c 'import socket; socket.getaddrinfo("www.lab.test", 443, socket.AF_INET)'; `
	tests := []struct {
		name     string
		script   string
		exit     int    // curl's status (htapod keeps a failing command's)
		fronting string // the policy line's fronting clause, or "" for no policy line
	}{
		{"resolve without lookup", "curl -sS -o /dev/null --max-time 10 --resolve www.lab.test:443:" + lab.WWW4 + " https://www.lab.test/", 0, ""},
		{"looked-up front, other name", "curl -sS -o /dev/null --max-time 10 --connect-to evil.example:443:www.lab.test:443 https://evil.example/",
			35, "domain fronting: evil.example did not resolve to " + lab.WWW4 + " (www.lab.test did)"},
		{"looked-up name, other address", lookup + "curl -sS -o /dev/null --max-time 10 --resolve www.lab.test:443:" + lab.Plain4 + " https://www.lab.test/",
			35, "domain fronting: www.lab.test did not resolve to " + lab.Plain4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.tap(lab.RunOptions{}, "-v", "--deny-fronting", "--", "sh", "-c", tt.script)
			if res.ExitCode != tt.exit {
				t.Fatalf("exit %d; want %d: %v", res.ExitCode, tt.exit, res)
			}
			const unchecked = "htapod  debug: tls name www.lab.test on " + lab.WWW4 + ":443: not resolved through htapod, not checked for domain fronting"
			if strings.Contains(string(res.Stderr), unchecked) != (tt.fronting == "") {
				t.Errorf("report says %q: %v; want it only for the name never looked up:\n%s",
					unchecked, strings.Contains(string(res.Stderr), unchecked), res.Stderr)
			}
			lines := policyLines(string(res.Stderr))
			switch {
			case tt.fronting == "" && len(lines) != 0:
				t.Errorf("policy lines %q; want none: the name was never looked up through htapod", lines)
			case tt.fronting != "" && (len(lines) == 0 || !strings.Contains(lines[0], "at tls") || !strings.Contains(lines[0], tt.fronting)):
				t.Errorf("policy lines %q; want the SNI denied at tls with %q", lines, tt.fronting)
			}
		})
	}
}

// TestPolicyLearn: --learn writes a policy from a run; the same run with
// it passes; a run that contacts one more host fails and names it.
func TestPolicyLearn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	file := e.Home() + "/learned.policy"
	res := e.htapod("--learn", file, "--", "curl", "-sS", "-o", "/dev/null", "http://www.lab.test/")
	if res.ExitCode != 0 {
		t.Fatalf("learning run: %v", res)
	}
	b, err := os.ReadFile(file)
	if err != nil || !strings.Contains(string(b), "\nallow tcp:www.lab.test:80\n") || !strings.Contains(string(b), "first by curl") {
		t.Fatalf("learned file %q, %v; want an allow rule for www.lab.test:80 with its process", b, err)
	}
	res = e.htapod("--policy", file, "--", "curl", "-sS", "-o", "/dev/null", "http://www.lab.test/")
	if res.ExitCode != 0 || len(policyLines(string(res.Stderr))) != 0 {
		t.Fatalf("run with the learned policy: %v; want exit 0 and no denial", res)
	}
	res = e.htapod("--policy", file, "--", "sh", "-c", "curl -sS -o /dev/null http://www.lab.test/; curl -sS -o /dev/null http://api.lab.test/; exit 0")
	if res.ExitCode != exitDenied || !strings.Contains(string(res.Stderr), "dns api.lab.test") {
		t.Fatalf("run with one more host: %v; want exit %d naming api.lab.test", res, exitDenied)
	}
}

// TestPolicyBadFile: a policy file with an error stops htapod before the
// command runs, with file:line:column and exit status 2.
func TestPolicyBadFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	file := e.WriteFile("bad.policy", []byte("allow *.lab.test\nallow www.lab.test:99999\n"), 0o644)
	res := e.htapod("--policy", file, "--", "sh", "-c", "echo ran")
	if res.ExitCode != 2 || strings.Contains(string(res.Stdout), "ran") ||
		!strings.Contains(string(res.Stderr), file+":2:20: bad port") {
		t.Fatalf("htapod with a bad policy: %v; want exit 2 and %s:2:20", res, file)
	}
}

// flowEvent is the part of a --json "flow" line that the process tests read.
type flowEvent struct {
	Name    string `json:"name"`
	Dst     string `json:"dst"`
	Process *struct {
		Exe   string `json:"exe"`
		Chain string `json:"chain"`
		Error string `json:"error"`
	} `json:"process"`
}

// flowEvents reads the "flow" lines of htapod's --json output.
func flowEvents(out []byte) []flowEvent {
	var flows []flowEvent
	for _, line := range strings.Split(string(out), "\n") {
		var ev struct {
			Type string `json:"type"`
			flowEvent
		}
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Type == "flow" {
			flows = append(flows, ev.flowEvent)
		}
	}
	return flows
}

// TestProcessAttribution: each flow of `sh -c 'curl …; python3 …'` is
// attributed to its own executable, with sh as its parent.
func TestProcessAttribution(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	py := `import urllib.request; urllib.request.urlopen("http://api.lab.test/").read()`
	res := e.htapod("--json", "--", "sh", "-c", "curl -sS -o /dev/null http://www.lab.test/; python3 -c '"+py+"'")
	if res.ExitCode != 0 {
		t.Fatalf("%v", res)
	}
	got := map[string]string{} // name → exe and chain
	for _, fl := range flowEvents(res.Stderr) {
		if fl.Process != nil {
			got[fl.Name] = fl.Process.Exe + " | " + fl.Process.Chain + fl.Process.Error
		}
	}
	for name, want := range map[string][]string{
		"www.lab.test": {"/curl |", "sh → curl -sS -o /dev/null http://www.lab.test/"},
		"api.lab.test": {"/python3", "sh → python3 -c \"import urllib"},
	} {
		for _, w := range want {
			if !strings.Contains(got[name], w) {
				t.Errorf("process of the flow to %s = %q; want %q in it", name, got[name], w)
			}
		}
	}
}

// TestProcessAttributionManyConnections: a command that holds 300
// connections and keeps opening more, on new fds and on the fds of a
// closed connection and of a closed file, has each flow attributed to it.
// htapod finds a new socket where the kernel puts it, without reading
// all 300 fds again; this checks that it still finds every one.
func TestProcessAttributionManyConnections(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const held = 300
	py := `import socket
held = [socket.create_connection(("api.lab.test", 80)) for _ in range(300)]
held[7].close()
held.append(socket.create_connection(("api.lab.test", 80)))
f = open("/dev/null")
held.append(socket.create_connection(("api.lab.test", 80)))
f.close()
held.append(socket.create_connection(("api.lab.test", 80)))
print("opened", len(held))
`
	start := time.Now()
	res := e.htapod("--json", "--", "python3", "-c", py)
	took := time.Since(start)
	if res.ExitCode != 0 || !strings.Contains(string(res.Stdout), "opened 303") {
		t.Fatalf("%v", res)
	}
	flows, found := 0, 0
	for _, fl := range flowEvents(res.Stderr) {
		if !strings.HasSuffix(fl.Dst, ":80") {
			continue
		}
		flows++
		switch {
		case fl.Process == nil:
			t.Errorf("a flow without its process: %+v", fl)
		case strings.HasPrefix(path.Base(fl.Process.Exe), "python3"):
			found++
		default:
			t.Errorf("a flow's process: %+v", *fl.Process)
		}
	}
	if flows != held+3 || found != flows {
		t.Errorf("%d flows to port 80, %d of them attributed to python3; want %d, all", flows, found, held+3)
	}
	t.Logf("303 connections through htapod in %v", took)
}

// TestPolicyHostDeniedKeepAlive: on one kept-alive connection, requests
// with an allowed Host reach the server and the one with a denied Host
// gets htapod's 403 at once (then the connection closes); a WebSocket
// upgrade under the same policy is relayed once its Host is judged.
func TestPolicyHostDeniedKeepAlive(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	e.StartWebSocket()
	script := `curl -sS -o /dev/null -w 'first=%{http_code} ' http://www.lab.test/ ` +
		`--next -sS -o /dev/null -w 'second=%{http_code} ' http://www.lab.test/ ` +
		`--next -sS -H 'Host: evil.example' -w 'denied=%{http_code} reused=%{num_connects}\n' http://www.lab.test/`
	start := time.Now()
	res := e.tap(lab.RunOptions{}, "--allow", "*.lab.test", "--", "sh", "-c", script)
	took := time.Since(start)
	stdout, stderr := string(res.Stdout), string(res.Stderr)
	if !strings.Contains(stdout, "first=200 second=200 ") || !strings.Contains(stdout, "denies evil.example") ||
		!strings.Contains(stdout, "denied=403 reused=0") {
		t.Fatalf("stdout %q; want two 200s, then htapod's 403 on the same connection\nstderr:\n%s", stdout, stderr)
	}
	if took > 5*time.Second {
		t.Errorf("took %v; the 403 should come at once", took)
	}
	if res.ExitCode != exitDenied {
		t.Errorf("exit status %d; want %d", res.ExitCode, exitDenied)
	}
	client := lab.Client(t)
	ws := e.tap(lab.RunOptions{}, "--allow", "*.lab.test", "--", client, "ws", "ws://www.lab.test"+port(lab.PortWS)+"/echo", "hello")
	if ws.ExitCode != 0 || !strings.Contains(string(ws.Stderr), "→ websocket") {
		t.Errorf("WebSocket under a Host policy: %v", ws)
	}
}

// TestPolicyMapHost: --map-host follows the same rules: the mapped address
// and htapod's own name for it are judged before the mapping.
func TestPolicyMapHost(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.htapod("--map-host", "10.10.10.10", "--allow", "*.lab.test", "--", "sh", "-c",
		"curl -sS --max-time 5 http://10.10.10.10:9/; echo curl=$?; dig +tries=1 +time=5 host.htapod.internal. A | grep status:; exit 0")
	out := string(res.Stdout)
	if res.ExitCode != exitDenied || !strings.Contains(out, "curl=7") || !strings.Contains(out, "status: REFUSED") {
		t.Fatalf("stdout %q, exit %d; want curl refused, the name REFUSED, exit %d: %v", out, res.ExitCode, exitDenied, res)
	}
	lines := strings.Join(policyLines(string(res.Stderr)), "\n")
	if !strings.Contains(lines, "tcp 10.10.10.10:9") || !strings.Contains(lines, "dns host.htapod.internal") {
		t.Errorf("policy lines %q; want the mapped address and the name", lines)
	}
}

// TestPolicyHostDenied: an HTTP request whose Host the policy denies, on a
// connection to an allowed name, gets htapod's 403 naming the rule, and
// never reaches the server; a request with an allowed Host still does.
func TestPolicyHostDenied(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	script := `curl -sS -H 'Host: evil.example' -w '\nstatus=%{http_code}\n' http://www.lab.test/; ` +
		`curl -sS -o /dev/null -w 'allowed=%{http_code}\n' http://www.lab.test/`
	res := e.tap(lab.RunOptions{}, "--allow", "*.lab.test", "--", "sh", "-c", script)
	stdout, stderr := string(res.Stdout), string(res.Stderr)
	if !strings.Contains(stdout, "status=403") || !strings.Contains(stdout, "denies evil.example") {
		t.Fatalf("stdout %q; want htapod's 403 naming the denied Host\nstderr:\n%s", stdout, stderr)
	}
	if !strings.Contains(stdout, "allowed=200") {
		t.Errorf("stdout %q; want the request with an allowed Host answered 200 by the server", stdout)
	}
	lines := policyLines(stderr)
	if len(lines) == 0 || !strings.Contains(strings.Join(lines, "\n"), "at http") {
		t.Errorf("policy lines %q; want the Host denied at http", lines)
	}
	if res.ExitCode != exitDenied {
		t.Errorf("exit status %d; want %d (a denial happened)", res.ExitCode, exitDenied)
	}
}
