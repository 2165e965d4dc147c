package e2e

import (
	"os"
	"strings"
	"testing"

	"github.com/htapod/htapod/internal/lab"
)

// countFlows returns how many flow lines of report have protocol proto,
// destination dest and ending end.
func countFlows(report, proto, dest, end string) int {
	n := 0
	for _, f := range reportLines(report) {
		if f[0] == proto && len(f) >= 3 && f[1] == dest && f[len(f)-1] == end {
			n++
		}
	}
	return n
}

// TestOneLinePerConnection checks the flow accounting: curl fetches two
// URLs over one kept-alive connection, which is one flow and one line.
func TestOneLinePerConnection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	url := "http://" + lab.WWW4 + "/"
	res := e.htapod("-v", "--", "curl", "-sS", url, url)
	if res.ExitCode != 0 || string(res.Stdout) != lab.IndexHTML+lab.IndexHTML {
		t.Fatalf("htapod -- curl URL URL: %v; want the page twice", res)
	}
	if n := countFlows(string(res.Stderr), "tcp", www[0], "closed"); n != 1 {
		t.Errorf("report has %d closed flows to %s; want 1 (one kept-alive connection):\n%s", n, www[0], res.Stderr)
	}
}

// TestConcurrentFlows runs 20 downloads at once and expects every one to
// complete intact and to be reported.
func TestConcurrentFlows(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 20
	script := `for i in $(seq 20); do
	curl -sS --max-time 20 "http://` + lab.WWW4 + `/bytes?n=200000" | md5sum &
done
wait`
	res := e.htapod("-v", "--", "sh", "-c", script)
	direct := e.direct(lab.RunOptions{}, "sh", "-c", `curl -sS "http://`+lab.WWW4+`/bytes?n=200000" | md5sum`)
	want := strings.Repeat(string(direct.Stdout), n)
	if res.ExitCode != 0 || string(res.Stdout) != want {
		t.Errorf("%d concurrent downloads: %v; want %d times %q", n, res, n, direct.Stdout)
	}
	if got := countFlows(string(res.Stderr), "tcp", www[0], "closed"); got != n {
		t.Errorf("report has %d closed flows to %s; want %d:\n%s", got, www[0], n, res.Stderr)
	}
}

// TestNginx goes through a real web server: HTTP/1.1 keep-alive, chunked
// transfer encoding and gzip, where a relay that miscounts or truncates
// bytes shows.
func TestNginx(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	page := strings.Repeat("nginx in the lab, compressible line\n", 5000)
	// nginx's workers run as nobody: the document root must be world-readable.
	docroot, err := os.MkdirTemp("", "htapod-e2e-www-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(docroot) })
	if err := os.Chmod(docroot, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(docroot+"/page", []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	e.StartNginx(`gzip on; gzip_min_length 1; gzip_types text/plain;
	server {
		listen ` + lab.API4 + `:8080;
		default_type text/plain;
		root ` + docroot + `;
	}`)
	url := "http://api.lab.test:8080/page"
	res := e.htapod("-v", "--", "curl", "-sS", "--compressed", url, url)
	if res.ExitCode != 0 || string(res.Stdout) != page+page {
		t.Errorf("htapod -- curl --compressed: exit %d, %d bytes; want exit 0 and %d bytes\nstderr:\n%s",
			res.ExitCode, len(res.Stdout), 2*len(page), res.Stderr)
	}
	wantFlow(t, string(res.Stderr), "tcp", []string{lab.API4 + ":8080"}, "closed")
}

// TestOutputFileUnwritable checks that a report file htapod cannot write is
// htapod's own failure (exit 125), said clearly, and not the command's.
func TestOutputFileUnwritable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.htapod("-o", "/nonexistent/report.txt", "--", "true")
	if res.ExitCode != 125 || !strings.Contains(string(res.Stderr), "/nonexistent/report.txt") {
		t.Errorf("htapod -o /nonexistent/report.txt -- true: %v; want exit 125 and a message naming the file", res)
	}
}
