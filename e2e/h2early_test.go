package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/htapod/htapod/internal/lab"
)

// TestH2EarlyResponseKeepsRequestBody: a POST with a JSON body over h2 to
// a static file, which nginx answers 405 at once and resets with
// NO_ERROR: curl's body often arrives after that (and sometimes curl,
// having its answer, never sends it). Whatever the order, every output
// carries what was relayed: the body is in the -b report, the HAR and the
// JSON done event exactly when the flow carried it up.
func TestH2EarlyResponseKeepsRequestBody(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	const reqBody = `{"order":"early-405","items":[1,2,3]}`
	url := "https://www.lab.test/data.json"
	argv := []string{"curl", "-sS", "--http2", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_code} %{http_version}\n",
		"-X", "POST", "-H", "Content-Type: application/json", "--data", reqBody, url}
	type run struct {
		up      int64
		hasBody bool
	}
	var runs []run
	for i := range 8 { // the order of the two directions varies: try a few times
		harPath := filepath.Join(e.Home(), "early"+strconv.Itoa(i)+".har")
		jsonMode := i%2 == 0
		flags := []string{"-v", "-b"}
		if jsonMode {
			flags = []string{"--json"}
		}
		res := e.tap(lab.RunOptions{}, append(append(flags, "--har", harPath, "--"), argv...)...)
		if res.ExitCode != 0 || string(res.Stdout) != "405 2\n" {
			t.Fatalf("htapod %q -- curl POST %s: %v; want 405 over h2", flags, url, res)
		}
		inHAR := harPostData(t, harPath) == reqBody
		var r run
		if jsonMode {
			r.up, r.hasBody = jsonUpAndBody(t, res.Stderr, reqBody)
		} else {
			r.up = reportUp(t, string(res.Stderr))
			r.hasBody = strings.Contains(string(res.Stderr), `"order": "early-405"`)
		}
		if r.hasBody != inHAR {
			t.Errorf("run %d (%q): request body in the report/JSON %v, in the HAR %v; want both the same; output:\n%s",
				i, flags, r.hasBody, inHAR, res.Stderr)
		}
		runs = append(runs, r)
	}
	lo, hi := runs[0].up, runs[0].up
	for _, r := range runs {
		lo, hi = min(lo, r.up), max(hi, r.up)
	}
	if hi == lo {
		t.Skipf("curl sent the same bytes up in every run (%d): no run to compare", hi)
	}
	if hi-lo != int64(len(reqBody)) {
		t.Fatalf("runs carried %d to %d bytes up; want them to differ by the body (%d)", lo, hi, len(reqBody))
	}
	for i, r := range runs {
		if r.hasBody != (r.up == hi) {
			t.Errorf("run %d: carried %d bytes up (the body: %v), request body shown %v", i, r.up, r.up == hi, r.hasBody)
		}
	}
}

// harPostData returns the postData text of the HAR's only entry, or "".
func harPostData(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Log struct {
			Entries []struct {
				Request struct{ PostData *struct{ Text string } }
			}
		}
	}
	if err := json.Unmarshal(b, &h); err != nil || len(h.Log.Entries) != 1 {
		t.Fatalf("HAR (%v) = %s; want one entry", err, b)
	}
	if pd := h.Log.Entries[0].Request.PostData; pd != nil {
		return pd.Text
	}
	return ""
}

// jsonUpAndBody reads --json output: the TCP flow's up count, and whether
// the done event's request body is want.
func jsonUpAndBody(t *testing.T, out []byte, want string) (int64, bool) {
	t.Helper()
	var up int64 = -1
	var has bool
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev struct {
			Type, Phase, Proto string
			Up                 int64
			Request            struct{ Body *struct{ Text string } }
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		switch {
		case ev.Type == "flow" && ev.Proto == "tcp":
			up = ev.Up
		case ev.Type == "http" && ev.Phase == "done":
			has = ev.Request.Body != nil && ev.Request.Body.Text == want
		}
	}
	if up < 0 {
		t.Fatalf("no tcp flow event in:\n%s", out)
	}
	return up, has
}

var upCount = regexp.MustCompile(`↑(\d+) B`)

// reportUp reads the up count of the report's tcp line (-v).
func reportUp(t *testing.T, report string) int64 {
	t.Helper()
	for _, f := range reportLines(report) {
		if f[0] != "tcp" {
			continue
		}
		if m := upCount.FindStringSubmatch(strings.Join(f, "  ")); m != nil {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			return n
		}
	}
	t.Fatalf("no tcp line with ↑N B in:\n%s", report)
	return 0
}
