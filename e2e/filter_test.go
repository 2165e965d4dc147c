package e2e

import (
	"encoding/json"
	"os"
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
