package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/htapod/htapod/internal/lab"
)

// replayClient makes the requests of a recorded run: curl over HTTP/1.1
// (a gzip-compressed, chunked text) and HTTP/2, a redirect, a binary
// download over plain HTTP, a binary one over HTTPS, Python requests with a JSON POST, and Node's
// fetch (which asks for gzip).
const replayClient = `set -e
curl -sS --max-time 10 --http1.1 --compressed https://www.lab.test/text.txt | sha256sum
curl -sS --max-time 10 --http2 https://www.lab.test/data.json; echo
curl -sS --max-time 10 -L https://www.lab.test/old
curl -sS --max-time 10 'http://www.lab.test/bytes?n=3000' | sha256sum
curl -sS --max-time 10 https://www.lab.test/blob.bin | sha256sum
python3 -c 'import requests; r = requests.post("http://www.lab.test/echo", json={"a": 1}, timeout=10); print(r.status_code, r.text)'
node -e 'fetch("https://www.lab.test/data.json").then(r => r.text()).then(t => console.log(t))'
`

// takeOffline removes every lab host's address: its servers (DNS
// included) can no longer be reached by anyone.
func takeOffline(t *testing.T, l *lab.Lab) {
	t.Helper()
	for _, a := range []string{lab.WWW4 + "/32", lab.API4 + "/32", lab.Plain4 + "/32", lab.DNS4 + "/32", lab.Nameless4 + "/32", lab.WWW6 + "/128"} {
		if out, err := exec.Command("ip", "-n", l.Name(), "addr", "del", a, "dev", "lo").CombinedOutput(); err != nil {
			t.Fatalf("ip addr del %s: %v: %s", a, err, out)
		}
	}
}

// TestReplay records a run of several clients to a HAR file, then, with
// every lab server out of reach, replays it: each client prints exactly
// what it printed when recorded. A request the recording lacks gets the
// miss response; with --replay-miss=forward (servers up) it reaches the
// server.
func TestReplay(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	blob := make([]byte, 20000) // every byte value: base64 in the HAR
	for i := range blob {
		blob[i] = byte(i * 7)
	}
	if err := os.WriteFile(e.web.Docroot+"/blob.bin", blob, 0o644); err != nil {
		t.Fatal(err)
	}
	script := e.WriteFile("client.sh", []byte(replayClient), 0o755)
	har := e.Home() + "/run.har"
	rec := e.tap(lab.RunOptions{}, "--har", har, "--body-limit", "10000000", "--", "sh", script)
	if rec.ExitCode != 0 {
		t.Fatalf("recorded run: %v", rec)
	}
	if !strings.Contains(string(rec.Stdout), lab.NewPage) || !strings.Contains(string(rec.Stdout), lab.JSONDoc) {
		t.Fatalf("recorded run printed %q; want the lab's pages", rec.Stdout)
	}

	// A recording with secrets: by default cookies and credentials are
	// redacted, --redact takes a query parameter too.
	secretCmd := []string{"curl", "-sS", "--max-time", "10", "-H", "Authorization: Bearer s3cret-token",
		"-b", "sid=s3cret-cookie", "http://www.lab.test/bytes?n=8&token=s3cret-param"}
	redacted := e.Home() + "/redacted.har"
	secretRec := e.htapod(append([]string{"--har", redacted, "--redact", "param:token", "--"}, secretCmd...)...)
	if secretRec.ExitCode != 0 {
		t.Fatalf("recorded run with secrets: %v", secretRec)
	}
	if b, err := os.ReadFile(redacted); err != nil || strings.Contains(string(b), "s3cret") || !strings.Contains(string(b), "REDACTED") {
		t.Errorf("redacted HAR holds a secret (or no placeholder), err %v:\n%s", err, b)
	}

	t.Run("miss forwarded", func(t *testing.T) {
		r := e.htapod("--replay", har, "--replay-miss=forward", "--", "curl", "-sS", "--max-time", "10", "http://www.lab.test/bytes?n=16")
		if r.ExitCode != 0 || string(r.Stdout) != string(lab.Pattern(16)) {
			t.Errorf("forwarded miss: got %q; want the server's bytes: %v", r.Stdout, r)
		}
		if !strings.Contains(string(r.Stderr), "[replay miss, forwarded]") {
			t.Errorf("report does not mark the forwarded miss:\n%s", r.Stderr)
		}
	})

	takeOffline(t, e.Lab)
	if r := e.direct(lab.RunOptions{}, e.curlLab("--max-time", "5", "https://www.lab.test/new")...); r.ExitCode == 0 {
		t.Fatalf("the lab is still reachable after its addresses were removed: %v", r)
	}

	t.Run("offline", func(t *testing.T) {
		r := e.htapod("--replay", har, "--", "sh", script)
		if r.ExitCode != 0 || string(r.Stdout) != string(rec.Stdout) {
			t.Fatalf("replayed stdout differs from the recorded run's:\nrecorded:\n%s\nreplayed: %v", rec.Stdout, r)
		}
		if n := strings.Count(string(r.Stderr), "[replay]"); n < 8 {
			t.Errorf("report marks %d exchanges as replayed; want at least 8:\n%s", n, r.Stderr)
		}
	})

	t.Run("redacted", func(t *testing.T) {
		r := e.htapod(append([]string{"--replay", redacted, "--"}, secretCmd...)...)
		if r.ExitCode != 0 || string(r.Stdout) != string(secretRec.Stdout) {
			t.Errorf("replay of the redacted recording: got %q; want %q: %v", r.Stdout, secretRec.Stdout, r)
		}
	})

	t.Run("miss", func(t *testing.T) {
		r := e.htapod("--replay", har, "--", "curl", "-sS", "-i", "--max-time", "10", "https://www.lab.test/missing")
		out := string(r.Stdout)
		for _, want := range []string{" 502", "x-htapod-replay: miss", "no recorded response for GET https://www.lab.test/missing"} {
			if !strings.Contains(strings.ToLower(out), strings.ToLower(want)) {
				t.Errorf("miss response lacks %q: %v", want, r)
			}
		}
		if !strings.Contains(string(r.Stderr), "[replay miss]") {
			t.Errorf("report has no replay miss line:\n%s", r.Stderr)
		}
	})
}
