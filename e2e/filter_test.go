package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/htapod/htapod/internal/lab"
)

// A filter decides per exchange: of two requests on one connection
// (HTTP/1.1 keep-alive, or two streams of one HTTP/2 connection), only the
// one whose body matches is shown, in the report and in the HAR file.
func TestGrepPerExchange(t *testing.T) {
	e := newTLSEnv(t)
	const (
		match = "https://www.lab.test/new" // body "the new page"
		other = "https://www.lab.test/data.json"
	)
	tests := []struct {
		name  string
		flags []string
	}{
		{"h2", nil},
		{"http1.1 keep-alive", []string{"--http1.1"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			harFile := filepath.Join(e.Home(), "grep"+string(rune('0'+i))+".har")
			argv := []string{"--grep", "the new page", "--har", harFile, "--", "curl", "-sS"}
			argv = append(argv, tt.flags...)
			argv = append(argv, "-o", "/dev/null", "-o", "/dev/null", match, other)
			res := e.tap(lab.RunOptions{}, argv...)
			if res.ExitCode != 0 {
				t.Fatalf("htapod %q: %v", argv, res)
			}
			report := string(res.Stderr)
			if !strings.Contains(report, "GET "+match) {
				t.Errorf("report has no exchange GET %s, whose body matches:\n%s", match, report)
			}
			if strings.Contains(report, other) {
				t.Errorf("report shows GET %s, whose body does not match, because an earlier exchange on its connection did:\n%s", other, report)
			}
			entries := harURLs(t, harFile)
			if len(entries) != 1 || entries[0] != match {
				t.Errorf("HAR entries %q; want only %q", entries, match)
			}
		})
	}
}

// TestFilterTLS: ~tls keeps what travelled in TLS, the HTTP exchanges
// inside intercepted TLS included; !~tls keeps the clear-text ones. Of an
// HTTPS and a plain HTTP request, each filter keeps one, in the report and
// in the HAR file.
func TestFilterTLS(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	const (
		secure = "https://www.lab.test/new"
		plain  = "http://www.lab.test/"
	)
	tests := []struct {
		filter     string
		want, left string
	}{
		{"~tls", secure, plain},
		{"~http & !~tls", plain, secure},
	}
	for i, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			harFile := filepath.Join(e.Home(), fmt.Sprintf("tls%d.har", i))
			res := e.tap(lab.RunOptions{}, "--filter", tt.filter, "--har", harFile, "--", "sh", "-c",
				"curl -sS -o /dev/null "+secure+" && curl -sS -o /dev/null "+plain)
			if res.ExitCode != 0 {
				t.Fatalf("htapod --filter %q: %v", tt.filter, res)
			}
			report := string(res.Stderr)
			if !strings.Contains(report, "GET "+tt.want) || strings.Contains(report, "GET "+tt.left) {
				t.Errorf("--filter %q: want the report to show GET %s and not GET %s:\n%s", tt.filter, tt.want, tt.left, report)
			}
			if urls := harURLs(t, harFile); len(urls) != 1 || urls[0] != tt.want {
				t.Errorf("--filter %q: HAR entries %q; want only %q", tt.filter, urls, tt.want)
			}
		})
	}
}

// TestSummaryFiltered: the exit summary counts what the filter kept, and
// its title says so, of how many: of two requests (on two connections)
// --grep keeps one.
func TestSummaryFiltered(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	script := "curl -sS -o /dev/null https://www.lab.test/new && curl -sS -o /dev/null https://www.lab.test/data.json"
	tests := []struct {
		name  string
		flags []string
		title string // the summary's title line
	}{
		{"no filter", nil, "htapod summary: 2 flows, 1 hosts"},
		{"grep", []string{"--grep", "the new page"}, "htapod summary: 1 flows, 1 hosts (filtered: 1 of 2 flows, 1 of 2 requests)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"--summary"}, tt.flags...), "--", "sh", "-c", script)
			res := e.tap(lab.RunOptions{}, args...)
			if res.ExitCode != 0 {
				t.Fatalf("htapod %q: %v", args, res)
			}
			var title string
			for _, l := range strings.Split(string(res.Stderr), "\n") {
				if strings.HasPrefix(l, "htapod summary: ") {
					title = l
				}
			}
			if title != tt.title {
				t.Errorf("summary title %q; want %q; report:\n%s", title, tt.title, res.Stderr)
			}
		})
	}
}

// harURLs returns the request URLs of a HAR file's entries.
func harURLs(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read HAR: %v", err)
	}
	var har struct {
		Log struct {
			Entries []struct {
				Request struct{ URL string }
			}
		}
	}
	if err := json.Unmarshal(data, &har); err != nil {
		t.Fatalf("HAR %s: %v", path, err)
	}
	var urls []string
	for _, en := range har.Log.Entries {
		urls = append(urls, en.Request.URL)
	}
	return urls
}

// An output that cannot be completed (a full disk) is named, and makes
// htapod exit 125 though the command succeeded: a user must not take a
// cut file for the whole run.
func TestOutputDiskFull(t *testing.T) {
	e := newEnv(t)
	uid, gid := lab.User(t)
	dir, err := os.MkdirTemp("", "htapod-e2e-full-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	opts := fmt.Sprintf("size=64k,mode=0700,uid=%d,gid=%d", uid, gid)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	pcap := filepath.Join(dir, "run.pcapng")
	res := e.htapod("--pcap", pcap, "--", "curl", "-sS", "-o", "/dev/null", "http://www.lab.test/bytes?n=1000000")
	if res.ExitCode != 125 {
		t.Errorf("htapod --pcap on a full disk -- curl (which succeeded): exit %d; want 125:\n%s", res.ExitCode, res.Stderr)
	}
	want := "htapod: the capture " + pcap + " is not complete: "
	if !strings.Contains(string(res.Stderr), want) || !strings.Contains(string(res.Stderr), "no space left on device") {
		t.Errorf("stderr does not say %q… no space left on device:\n%s", want, res.Stderr)
	}
}
