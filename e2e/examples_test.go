package e2e

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/htapod/htapod/internal/lab"
)

// The library's example programs (examples/) run as the unprivileged user
// in the lab, as the CLI does: they are htapod too.

func TestExampleBytesPerHost(t *testing.T) {
	e := newEnv(t)
	bin := lab.Example(t, "bytesperhost")
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	res := e.Run(ctx, lab.RunOptions{}, bin, "--", "curl", "-sS", "-o", "/dev/null", "http://www.lab.test/bytes?n=12345")
	if res.ExitCode != 0 {
		t.Fatalf("bytesperhost -- curl: %v", res)
	}
	// The sniffer counted the plaintext: at least the 12,345 body bytes down.
	m := regexp.MustCompile(`(?m)^www\.lab\.test\s+↑(\d+) B ↓(\d+) B$`).FindStringSubmatch(string(res.Stderr))
	if m == nil {
		t.Fatalf("bytesperhost printed no line for www.lab.test:\n%s", res.Stderr)
	}
	var up, down int
	fmt.Sscan(m[1], &up)
	fmt.Sscan(m[2], &down)
	if up < 50 || down < 12345 {
		t.Errorf("bytesperhost counted ↑%d ↓%d; want a request up and ≥ 12345 bytes down", up, down)
	}
}

func TestExampleOnlyDomain(t *testing.T) {
	e := newEnv(t)
	bin := lab.Example(t, "onlydomain")
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	script := `curl -sS -o /dev/null -w '%{http_code}\n' http://api.lab.test/; curl -sS -o /dev/null http://www.lab.test/; echo "www exit $?"`
	res := e.Run(ctx, lab.RunOptions{}, bin, "api.lab.test", "--", "sh", "-c", script)
	out := string(res.Stdout)
	if !strings.Contains(out, "200\n") || !strings.Contains(out, "www exit 7") {
		t.Errorf("onlydomain api.lab.test: stdout %q; want api's 200 and curl exit 7 (refused) for www:\n%s", out, res.Stderr)
	}
	wantFlow(t, string(res.Stderr), "tcp", []string{lab.WWW4 + ":80"}, "denied")
}

func TestExampleHostMap(t *testing.T) {
	e := newEnv(t)
	bin := lab.Example(t, "hostmap")
	// The "host's" loopback is the lab namespace's, where htapod runs.
	ln := e.Listen("tcp", "127.0.0.1:80")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "from the host's loopback\n")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	script := `curl -sS http://10.10.10.10/; curl -sS http://10.10.10.10:25/; echo "smtp exit $?"`
	res := e.Run(ctx, lab.RunOptions{}, bin, "--", "sh", "-c", script)
	out := string(res.Stdout)
	if !strings.Contains(out, "from the host's loopback\n") || !strings.Contains(out, "smtp exit 7") {
		t.Errorf("hostmap: stdout %q; want the loopback server's body and port 25 refused:\n%s", out, res.Stderr)
	}
	wantFlow(t, string(res.Stderr), "tcp", []string{"10.10.10.10:25"}, "denied")
}

func TestExampleCountSink(t *testing.T) {
	e := newEnv(t)
	bin := lab.Example(t, "countsink")
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	res := e.Run(ctx, lab.RunOptions{}, bin, "--", "curl", "-sS", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null",
		"http://www.lab.test/bytes?n=10", "http://www.lab.test/bytes?n=20", "http://api.lab.test/")
	if res.ExitCode != 0 {
		t.Fatalf("countsink -- curl: %v", res)
	}
	// The sink's Close printed its counts when the run ended.
	for _, want := range []string{`(?m)^www\.lab\.test\s+2 requests$`, `(?m)^api\.lab\.test\s+1 requests$`} {
		if !regexp.MustCompile(want).Match(res.Stderr) {
			t.Errorf("countsink printed no line matching %s:\n%s", want, res.Stderr)
		}
	}
}
