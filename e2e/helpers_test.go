package e2e

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/htapod/htapod/internal/lab"
)

func TestMain(m *testing.M) { lab.Main(m) }

// runTimeout bounds every htapod run that does not say otherwise.
const runTimeout = 30 * time.Second

// An env is one test's lab with its usual servers running, and the htapod
// binary under test.
type env struct {
	*lab.Lab
	t   testing.TB
	bin string
}

// newEnv makes a lab for t with StartServers running, or skips t when the
// machine cannot host a lab.
func newEnv(t testing.TB) *env {
	t.Helper()
	l := lab.New(t)
	l.StartServers()
	return &env{Lab: l, t: t, bin: lab.Htapod(t)}
}

// htapod runs `htapod args...` in the lab as the unprivileged user, bounded
// by runTimeout.
func (e *env) htapod(args ...string) lab.Result {
	e.t.Helper()
	return e.htapodOpts(lab.RunOptions{}, args...)
}

// htapodOpts is htapod with options (stdin, environment).
func (e *env) htapodOpts(opts lab.RunOptions, args ...string) lab.Result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	res := e.Run(ctx, opts, append([]string{e.bin}, args...)...)
	if res.TimedOut {
		e.t.Fatalf("htapod %q did not end within %v: %v", args, runTimeout, res)
	}
	return res
}

// direct runs argv in the lab as the unprivileged user without htapod: the
// baseline a test compares htapod's run with.
func (e *env) direct(opts lab.RunOptions, argv ...string) lab.Result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	res := e.Run(ctx, opts, argv...)
	if res.TimedOut {
		e.t.Fatalf("%q did not end within %v: %v", argv, runTimeout, res)
	}
	return res
}

// fieldSep separates the fields of a report line.
var fieldSep = regexp.MustCompile(`\s{2,}|\t`)

// endings are the words that may end a flow line.
var endings = []string{"closed", "reset", "refused", "unreachable", "timeout", "idle"}

// reportLines returns the report lines in s, each split into its fields:
// the lines whose first field is tcp, udp or dns. Other lines (the command's
// own stderr, htapod's messages) are left out.
func reportLines(s string) [][]string {
	var lines [][]string
	for _, line := range strings.Split(s, "\n") {
		f := fieldSep.Split(strings.TrimSpace(line), -1)
		if len(f) >= 2 && slices.Contains([]string{"tcp", "udp", "dns"}, f[0]) {
			lines = append(lines, f)
		}
	}
	return lines
}

// findFlow reports whether report has a flow line with protocol proto, a
// destination among dests and one of the given endings as its last field.
// It relies on nothing else of the line's format.
func findFlow(report, proto string, dests []string, ends ...string) bool {
	for _, f := range reportLines(report) {
		if f[0] == proto && len(f) >= 3 && slices.Contains(dests, f[1]) && slices.Contains(ends, f[len(f)-1]) {
			return true
		}
	}
	return false
}

// wantFlow fails t unless report has a flow line as findFlow describes.
func wantFlow(t testing.TB, report, proto string, dests []string, ends ...string) {
	t.Helper()
	if !findFlow(report, proto, dests, ends...) {
		t.Errorf("report has no line %q %q ... %q; report:\n%s", proto, dests, ends, report)
	}
}

// hasDNS reports whether report has a dns line that mentions name.
func hasDNS(report, name string) bool {
	re := regexp.MustCompile(`(^|[\s(])` + regexp.QuoteMeta(name) + `\.?($|[\s)])`)
	for _, f := range reportLines(report) {
		if f[0] == "dns" && re.MatchString(strings.Join(f[1:], "  ")) {
			return true
		}
	}
	return false
}

// wantDNS fails t unless report has a dns line that mentions name.
func wantDNS(t testing.TB, report, name string) {
	t.Helper()
	if !hasDNS(report, name) {
		t.Errorf("report has no dns line for %s; report:\n%s", name, report)
	}
}

// firstReportLine returns the first flow or dns line in s, or "".
func firstReportLine(s string) string {
	for _, f := range reportLines(s) {
		if f[0] == "dns" || (len(f) >= 3 && slices.Contains(endings, f[len(f)-1])) {
			return strings.Join(f, "  ")
		}
	}
	return ""
}

// noReport fails t if s holds any flow or dns line.
func noReport(t testing.TB, what, s string) {
	t.Helper()
	if line := firstReportLine(s); line != "" {
		t.Errorf("%s has a report line %q; want none:\n%s", what, line, s)
	}
}

// www is the destination of www.lab.test's web server, over either family:
// clients that resolve the name may pick the AAAA record.
var www = []string{lab.WWW4 + ":80", "[" + lab.WWW6 + "]:80"}
