package e2e

import (
	"strings"
	"testing"

	"github.com/htapod/htapod/internal/lab"
)

// TestTLSResumes runs OpenSSL's client twice in one htapod run, the
// second with the session the first saved: it resumes, as it would with
// the server directly, and still gets the page.
func TestTLSResumes(t *testing.T) {
	t.Parallel()
	need(t, "openssl")
	e := newTLSEnv(t)
	const sclient = `printf 'GET / HTTP/1.0\r\nHost: www.lab.test\r\n\r\n' | ` +
		`openssl s_client -connect www.lab.test:443 -servername www.lab.test -verify_return_error -ign_eof`
	script := sclient + " -sess_out sess > first 2>&1 && cat first && echo '--- second' && " + sclient + " -sess_in sess 2>&1"
	res := e.tap(lab.RunOptions{}, "--", "sh", "-c", script)
	first, second, ok := strings.Cut(string(res.Stdout), "--- second")
	if res.ExitCode != 0 || !ok {
		t.Fatalf("htapod -- sh -c %q: %v; want two runs of s_client", script, res)
	}
	if !strings.Contains(first, "New, TLS") || !strings.Contains(first, "Welcome to the htapod lab") {
		t.Errorf("first s_client: want a new session and the page:\n%s", first)
	}
	if !strings.Contains(second, "Reused, TLS") || !strings.Contains(second, "Welcome to the htapod lab") {
		t.Errorf("second s_client: want the session reused and the page:\n%s", second)
	}
}
