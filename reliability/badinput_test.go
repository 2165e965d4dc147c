package reliability

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/htapod/htapod/internal/lab"
)

// TestBadInput runs htapod against servers and a client that break the
// rules: binary garbage for an HTTP response, a 1 MiB header field, a
// header that never ends (5 s of header fields), a slowloris client (a
// byte every 100 ms for 3 s, never finishing its request) and a TLS
// record with a bad MAC after a good handshake. Each time a well-behaved
// flow runs beside it through the same htapod. htapod must report the bad
// flow (an unparsed "!" line, a failed exchange or a TLS error line), relay
// what it can unchanged, not crash (its exit status is the command's), and
// the other flow must complete correctly. One more client is slow but
// right: it sends its request head a byte every 30 ms (about 3 s) and
// then ends it; its exchange must be reported like any other.
func TestBadInput(t *testing.T) {
	tests := []struct {
		name  string
		serve func(e *env) <-chan transcript
		// bad is the misbehaving client; goodFor how long the flow beside
		// it lasts (past the bad one's end).
		bad     func(e *env) []string
		goodFor time.Duration
		// check compares the bad client's output with the server's
		// transcript; how is "direct" or "htapod".
		check func(t *testing.T, how string, out []byte, tr transcript)
		// report says what is missing from htapod's report, or "".
		report func(text string) string
	}{
		{"garbage", func(e *env) <-chan transcript { return e.serveAnswer(addr(portGarbage), garbage) },
			func(e *env) []string { return []string{e.client, "raw", "-addr", addr(portGarbage), "-limit", "30s"} },
			2 * time.Second, checkRaw, wantBadLine},
		{"1MiB-header", func(e *env) <-chan transcript { return e.serveAnswer(addr(portBigHeader), bigHeader) },
			func(e *env) []string { return []string{e.client, "raw", "-addr", addr(portBigHeader), "-limit", "30s"} },
			2 * time.Second, checkRaw, wantBadLine},
		{"endless-header", func(e *env) <-chan transcript { return e.serveAnswer(addr(portEndless), endlessHeader) },
			func(e *env) []string { return []string{e.client, "raw", "-addr", addr(portEndless), "-limit", "30s"} },
			6 * time.Second, checkRaw, wantBadLine},
		{"slowloris", func(e *env) <-chan transcript { return e.serveSink(addr(portSlowloris)) },
			func(e *env) []string {
				return []string{e.client, "slowloris", "-addr", addr(portSlowloris), "-every", "100ms", "-for", "3s", "-limit", "30s"}
			},
			4 * time.Second, checkSlowloris, wantBadLine},
		{"tls-bad-mac", func(e *env) <-chan transcript { return e.serveBadMAC(addr(portBadMAC), e.PKI().Server) },
			func(e *env) []string {
				return []string{"curl", "-sS", "--http1.1", "--max-time", "10", "-o", "/dev/null",
					fmt.Sprintf("https://www.lab.test:%d/", portBadMAC)}
			},
			2 * time.Second, checkBadMAC, wantBadLine},
		{"slow-request", func(e *env) <-chan transcript { return nil },
			func(e *env) []string {
				// A byte every 30 ms sends the whole head (96 bytes) in
				// about 3 s, so that its Host field is complete.
				return []string{e.client, "slowloris", "-finish", "-addr", lab.WWW4 + ":80", "-every", "30ms", "-for", "4s", "-limit", "30s"}
			},
			4 * time.Second, checkSlowRequest, wantExchange("GET http://www.lab.test/", "200 OK")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.serveEcho(addr(portEcho))
			transcripts := tt.serve(e)
			bad := tt.bad(e)
			next := func(how string) transcript {
				if transcripts == nil {
					return transcript{}
				}
				select {
				case tr := <-transcripts:
					if tr.Err != nil {
						t.Logf("%s: the server: %v", how, tr.Err)
					}
					return tr
				case <-time.After(15 * time.Second):
					t.Fatalf("%s: the server saw no connection", how)
				}
				return transcript{}
			}

			// Without htapod, for what the client sees.
			directArgv := bad
			if bad[0] == "curl" {
				directArgv = append([]string{"curl", "--cacert", e.PKI().CAFile}, bad[1:]...)
			}
			direct := e.runDirect(time.Minute, lab.RunOptions{}, directArgv...)
			tt.check(t, "direct", append(direct.Stdout, fmt.Sprintf("bad_exit=%d\n", direct.ExitCode)...), next("direct"))

			good := []string{e.client, "echo", "-addr", addr(portEcho), "-dur", tt.goodFor.String(), "-limit", "1m"}
			report := e.path("report.txt")
			flags := []string{"-o", report, "--upstream-ca", e.PKI().CAFile}
			res := e.runTap(2*time.Minute, lab.RunOptions{}, flags, "sh", "-c", besideScript(good, bad))
			if res.ExitCode != 3 {
				t.Errorf("htapod: %v; want exit 3, the command's", res)
			}
			if f := fields(res.Stdout, "echo"); f == nil || !strings.Contains(string(res.Stdout), "good_exit=0") {
				t.Errorf("the flow beside the bad one did not complete: %v", res)
			} else {
				t.Logf("the flow beside: %s rounds, %s bytes echoed", f["rounds"], f["bytes"])
			}
			tt.check(t, "htapod", res.Stdout, next("htapod"))

			text, err := os.ReadFile(report)
			if err != nil {
				t.Fatalf("htapod's report: %v", err)
			}
			t.Logf("htapod's report:\n%s", text)
			if missing := tt.report(string(text)); missing != "" {
				t.Errorf("htapod's report has %s:\n%s", missing, text)
			}
		})
	}
}

// besideScript runs good in the background, then bad, and prints how
// each ended; it exits 3, which htapod must pass on.
func besideScript(good, bad []string) string {
	return fmt.Sprintf(`%s >"$HOME/good.out" 2>&1 &
good=$!
sleep 0.3
%s
echo "bad_exit=$?"
wait $good
echo "good_exit=$?"
cat "$HOME/good.out"
exit 3`, shellJoin(good), shellJoin(bad))
}

// shellJoin quotes argv for sh.
func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// badLine returns the first report line that says a flow went wrong: an
// unparsed line ("!"), a failed exchange or TLS failure ("✗").
func badLine(report string) string {
	for _, line := range strings.Split(report, "\n") {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "!") || strings.Contains(l, "✗") {
			return l
		}
	}
	return ""
}

// wantBadLine wants a line that says a flow went wrong (badLine).
func wantBadLine(report string) string {
	if badLine(report) == "" {
		return "no line for the bad flow (\"!\", a failed exchange \"✗\" or a TLS error)"
	}
	return ""
}

// wantExchange wants the request line req ("GET URL") and a response line
// with status, and no line of a failure.
func wantExchange(req, status string) func(string) string {
	return func(report string) string {
		var sawReq, sawResp bool
		for _, line := range strings.Split(report, "\n") {
			l := strings.TrimSpace(line)
			sawReq = sawReq || strings.HasPrefix(l, "→") && strings.Contains(l, req)
			sawResp = sawResp || strings.HasPrefix(l, "←") && strings.Contains(l, status)
		}
		switch {
		case badLine(report) != "":
			return "a failure line " + badLine(report)
		case !sawReq || !sawResp:
			return fmt.Sprintf("no exchange %q → %q", req, status)
		}
		return ""
	}
}

// checkSlowRequest wants the slow client to have got the index page.
func checkSlowRequest(t *testing.T, how string, out []byte, _ transcript) {
	t.Helper()
	f := fields(out, "slowloris")
	if f == nil || f["status"] != "200" {
		t.Errorf("%s: the slow client got %v; want status 200", how, f)
	}
}

// checkRaw wants the raw client to have received exactly what the server
// sent.
func checkRaw(t *testing.T, how string, out []byte, tr transcript) {
	t.Helper()
	f := fields(out, "raw")
	if f == nil || atoi(f["recv"]) != tr.N || f["sum"] != tr.Sum {
		t.Errorf("%s: the client received %v; the server sent %d bytes, sha256 %s", how, f, tr.N, tr.Sum)
	}
}

// checkSlowloris wants the server to have received exactly what the
// slowloris client sent.
func checkSlowloris(t *testing.T, how string, out []byte, tr transcript) {
	t.Helper()
	f := fields(out, "slowloris")
	if f == nil || atoi(f["sent"]) != tr.N || f["sum"] != tr.Sum {
		t.Errorf("%s: the client sent %v; the server received %d bytes, sha256 %s", how, f, tr.N, tr.Sum)
	}
}

// checkBadMAC wants curl to have failed: a response in a record with a
// bad MAC is no response.
func checkBadMAC(t *testing.T, how string, out []byte, tr transcript) {
	t.Helper()
	if tr.N != int64(len(badMACResponse)) {
		t.Errorf("%s: the server sent %d bytes of its response; want %d", how, tr.N, len(badMACResponse))
	}
	if !strings.Contains(string(out), "bad_exit=") || strings.Contains(string(out), "bad_exit=0\n") {
		t.Errorf("%s: curl succeeded, or did not run, against a record with a bad MAC:\n%s", how, out)
	}
}
