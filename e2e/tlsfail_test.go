package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/htapod/htapod/internal/lab"
)

// sha256sum is the hex SHA-256 of b.
func sha256sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestTLSUpstreamRefused points curl at real servers whose certificates
// htapod must not accept: the client's handshake fails as it would
// without htapod (curl exit 35 or 60), and the report says why, naming
// the reason. With --insecure the same requests succeed.
func TestTLSUpstreamRefused(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	e.StartTLSServers()
	tests := []struct {
		name   string
		port   int
		reason string // in the tls line's error
	}{
		{"untrusted CA", lab.PortUntrusted, "certificate signed by unknown authority"},
		{"expired", lab.PortExpired, "expired"},
		{"wrong name", lab.PortWrongName, "valid for " + lab.WrongName + ", not www.lab.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := labURL(tt.port, "/")
			res := e.tap(lab.RunOptions{}, "--", "curl", "-sS", "--max-time", "20", url)
			if res.ExitCode != 35 && res.ExitCode != 60 {
				t.Errorf("htapod -- curl %s: %v; want exit 35 or 60 (the handshake failed)", url, res)
			}
			if len(res.Stdout) != 0 {
				t.Errorf("htapod -- curl %s: stdout %q; want nothing", url, res.Stdout)
			}
			lines := tlsLines(string(res.Stderr))
			if len(lines) != 1 || lines[0].host != "www.lab.test" ||
				!strings.HasPrefix(lines[0].err, "upstream") || !strings.Contains(lines[0].err, tt.reason) {
				t.Errorf("report's tls lines = %+v; want one for www.lab.test, \"✗ upstream…\" naming %q; report:\n%s",
					lines, tt.reason, res.Stderr)
			}
			if reqs := requests(string(res.Stderr)); len(reqs) != 0 {
				t.Errorf("report shows requests %q on a flow whose handshake failed", reqs)
			}

			res = e.tap(lab.RunOptions{}, "--insecure", "-v", "--", "curl", "-sS", "--max-time", "20", url)
			if res.ExitCode != 0 || string(res.Stdout) != lab.IndexHTML {
				t.Fatalf("htapod --insecure -- curl %s: %v; want exit 0 and the index page", url, res)
			}
			wantTLS(t, string(res.Stderr), tlsLine{host: "www.lab.test", version: "TLS 1.3", alpn: "h2", how: "intercepted"})
			wantExchanges(t, string(res.Stderr), []request{{"GET", url, "h2"}},
				[][]string{{"200 OK", "text/html", size(len(lab.IndexHTML))}})
		})
	}
}

// TestTLSPlainOn443 sends bytes that are not TLS to port 443: htapod must
// relay them raw, both ways, and not report a TLS failure.
func TestTLSPlainOn443(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	e.StartTLSServers()
	argv := []string{"nc", "-N", "-w", "10", lab.Plain4, "443"}
	res := e.tap(lab.RunOptions{Stdin: []byte("hello\n")}, append([]string{"-v", "--"}, argv...)...)
	if res.ExitCode != 0 || string(res.Stdout) != "hello\n" {
		t.Fatalf("htapod -- %q: %v; want exit 0 and the echo %q", argv, res, "hello\n")
	}
	if lines := tlsLines(string(res.Stderr)); len(lines) != 0 {
		t.Errorf("report has tls lines %+v for plain bytes; want none", lines)
	}
	wantFlow(t, string(res.Stderr), "tcp", []string{net.JoinHostPort(lab.Plain4, "443")}, "closed")
}

// TestTLSNoSNI connects to an address, so that the ClientHello has no SNI:
// htapod verifies the real server against the address and gives the
// client a leaf that carries it (curl checks the IP SAN; openssl shows it).
func TestTLSNoSNI(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	url := "https://" + lab.WWW4 + "/new"
	res := e.tap(lab.RunOptions{}, "-v", "--", "curl", "-sS", url)
	if res.ExitCode != 0 || string(res.Stdout) != lab.NewPage {
		t.Fatalf("htapod -- curl %s: %v; want exit 0 and %q", url, res, lab.NewPage)
	}
	wantTLS(t, string(res.Stderr), tlsLine{host: lab.WWW4 + ":443", version: "TLS 1.3", alpn: "h2", how: "intercepted"})
	wantExchanges(t, string(res.Stderr), []request{{"GET", url, "h2"}}, [][]string{{"200 OK", "text/plain", size(len(lab.NewPage))}})

	script := `openssl s_client -noservername -connect ` + lab.WWW4 + `:443 </dev/null 2>/dev/null |
	openssl x509 -noout -ext subjectAltName`
	res = e.tap(lab.RunOptions{}, "--", "sh", "-c", script)
	if res.ExitCode != 0 || !strings.Contains(string(res.Stdout), "IP Address:"+lab.WWW4) {
		t.Errorf("htapod -- openssl s_client -noservername: %v; want the leaf's SAN to hold IP Address:%s", res, lab.WWW4)
	}
}

// TestTLSClientOwnTrust runs a client that trusts only the lab's CA, not
// the system store that htapod adjusts: it must fail clearly (curl exit 60)
// and the report must say that the client refused htapod's certificate.
// With --passthrough for the host, the same client succeeds, and the
// report still shows the flow with its SNI.
func TestTLSClientOwnTrust(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	argv := []string{"curl", "-sS", "--max-time", "20", "--cacert", e.pki.CAFile, "--capath", "/nonexistent", labURL(443, "/")}
	for _, tt := range []struct{ name, tlsMax string }{{"intercepted", "1.3"}, {"intercepted TLS 1.2", "1.2"}} {
		t.Run(tt.name, func(t *testing.T) {
			argv := append([]string{argv[0], "--tls-max", tt.tlsMax}, argv[1:]...)
			res := e.tap(lab.RunOptions{}, append([]string{"--"}, argv...)...)
			if res.ExitCode != 60 {
				t.Errorf("htapod -- %q: %v; want exit 60 (the client does not trust htapod's CA)", argv, res)
			}
			lines := tlsLines(string(res.Stderr))
			if len(lines) != 1 || lines[0].host != "www.lab.test" ||
				!strings.HasPrefix(lines[0].err, "the client refused htapod's certificate") {
				t.Errorf("report's tls lines = %+v; want one for www.lab.test, \"✗ the client refused htapod's certificate…\"; report:\n%s",
					lines, res.Stderr)
			}
		})
	}
	t.Run("passthrough", func(t *testing.T) {
		res := e.tap(lab.RunOptions{}, append([]string{"-v", "--passthrough", "www.lab.test", "--"}, argv...)...)
		if res.ExitCode != 0 || string(res.Stdout) != lab.IndexHTML {
			t.Fatalf("htapod --passthrough www.lab.test -- %q: %v; want exit 0 and the index page", argv, res)
		}
		lines := tlsLines(string(res.Stderr))
		if len(lines) != 1 || lines[0].host != "www.lab.test" || lines[0].how != "passthrough" || lines[0].err != "" {
			t.Errorf("report's tls lines = %+v; want one for www.lab.test, passthrough; report:\n%s", lines, res.Stderr)
		}
		if !slices.ContainsFunc(reportLines(string(res.Stderr)), func(f []string) bool {
			return f[0] == "tcp" && slices.Contains(www443, f[1]) && len(f) > 2 && f[2] == "www.lab.test"
		}) {
			t.Errorf("report has no tcp line to %q named www.lab.test; report:\n%s", www443, res.Stderr)
		}
		if reqs := requests(string(res.Stderr)); len(reqs) != 0 {
			t.Errorf("report shows requests %q of a passthrough flow; htapod cannot see them", reqs)
		}
	})
}

// TestTLSKeyLog checks --keylog: the file gets the TLS 1.3 traffic secrets
// of both legs of every connection, two client randoms per connection
// (the command's ClientHello and htapod's own upstream).
func TestTLSKeyLog(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	keys := filepath.Join(e.Home(), "keys.txt")
	url := labURL(443, "/new")
	res := e.tap(lab.RunOptions{}, "--keylog", keys, "--", "sh", "-c", "curl -sS "+url+" && curl -sS "+url)
	if res.ExitCode != 0 || string(res.Stdout) != lab.NewPage+lab.NewPage {
		t.Fatalf("htapod --keylog -- curl twice: %v", res)
	}
	data, err := os.ReadFile(keys)
	if err != nil {
		t.Fatalf("htapod --keylog %s: %v", keys, err)
	}
	randoms := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "CLIENT_TRAFFIC_SECRET_0" {
			randoms[f[1]] = true
		}
	}
	if len(randoms) != 4 {
		t.Errorf("key log has CLIENT_TRAFFIC_SECRET_0 for %d client randoms; want 4 (2 connections × 2 legs):\n%s",
			len(randoms), data)
	}
	if len(randoms) == 0 {
		return
	}
	for r := range randoms {
		if !strings.Contains(string(data), "SERVER_TRAFFIC_SECRET_0 "+r+" ") {
			t.Errorf("key log has no SERVER_TRAFFIC_SECRET_0 for client random %s", r)
		}
	}
}

// TestTLSRunDirRemoved checks that the per-run CA's files live in a
// directory (in memory, /dev/shm, on this machine; else under TMPDIR) that
// holds no private key while the command runs and is gone afterwards.
func TestTLSRunDirRemoved(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	uid, gid := lab.User(t)
	tmp := filepath.Join(e.Home(), "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(tmp, uid, gid); err != nil {
		t.Fatal(err)
	}
	// The run directory is where the box's resolv.conf is bind-mounted
	// from: mountinfo's root field names it within its file system, which
	// is /dev/shm here (a memory file system; the test's TMPDIR is not
	// used). Other tests' htapod runs may have theirs there at the same time.
	script := `curl -sS ` + labURL(443, "/new") + ` >/dev/null || exit 1
root=$(awk '$5 == "/etc/resolv.conf" {print $4}' /proc/self/mountinfo | tail -n 1)
d=/dev/shm$(dirname "$root")
[ -d "$d" ] && echo "run dir $d"
grep -rl -e 'PRIVATE KEY' "$TMPDIR" "$d" 2>/dev/null | sed 's/^/key in /'
exit 0`
	res := e.tap(lab.RunOptions{Env: []string{"TMPDIR=" + tmp}}, "--", "sh", "-c", script)
	if res.ExitCode != 0 {
		t.Fatalf("htapod -- curl: %v", res)
	}
	out := string(res.Stdout)
	var runDirs []string
	for _, line := range strings.Split(out, "\n") {
		if d, ok := strings.CutPrefix(line, "run dir /dev/shm/htapod-"); ok {
			runDirs = append(runDirs, "/dev/shm/htapod-"+d)
		}
	}
	if len(runDirs) != 1 {
		t.Errorf("the command found %d htapod-* run directories behind its resolv.conf while it ran; want 1:\n%s", len(runDirs), out)
	}
	if strings.Contains(out, "key in ") {
		t.Errorf("a private key was on disk while the command ran:\n%s", out)
	}
	for _, d := range runDirs {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("after the run, the run directory %s is left", d)
		}
	}
}

// port is ":N".
func port(n int) string { return ":" + strconv.Itoa(n) }
