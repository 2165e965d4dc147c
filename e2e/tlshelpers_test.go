package e2e

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/htapod/htapod/internal/lab"
)

// A tlsEnv is a lab with the usual servers plus the lab's HTTPS site
// (nginx, lab.StartWeb), signed by the lab's CA, which htapod is told to
// trust for real servers.
type tlsEnv struct {
	*env
	pki *lab.PKI
	web *lab.Web
}

// newTLSEnv makes a lab for t with StartServers and StartWeb running, or
// skips t when the machine cannot host a lab.
func newTLSEnv(t testing.TB) *tlsEnv {
	t.Helper()
	e := newEnv(t)
	web := e.StartWeb()
	return &tlsEnv{env: e, pki: e.PKI(), web: web}
}

// tap runs `htapod --upstream-ca LABCA args...` as htapodOpts does.
func (e *tlsEnv) tap(opts lab.RunOptions, args ...string) lab.Result {
	e.t.Helper()
	return e.htapodOpts(opts, append([]string{"--upstream-ca", e.pki.CAFile}, args...)...)
}

// curlLab is a curl command line that trusts the lab's CA itself: the
// baseline without htapod.
func (e *tlsEnv) curlLab(args ...string) []string {
	return append([]string{"curl", "-sS", "--max-time", "20", "--cacert", e.pki.CAFile}, args...)
}

// www443 is the destination of www.lab.test's HTTPS site, over either
// family.
var www443 = []string{lab.WWW4 + ":443", "[" + lab.WWW6 + "]:443"}

// labURL is https://www.lab.test:PORT/PATH, or without the port for 443.
func labURL(port int, path string) string {
	if port == 443 {
		return "https://www.lab.test" + path
	}
	return "https://www.lab.test:" + strconv.Itoa(port) + path
}

// linesOf returns the report lines in s whose first field is kind ("→",
// "←", "tls", "ws", "dns"), each split into its fields, in order. Header
// and body lines, which are indented, never match.
func linesOf(s, kind string) [][]string {
	var out [][]string
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, " ") {
			continue // a header or body line
		}
		f := fieldSep.Split(strings.TrimSpace(line), -1)
		if len(f) >= 2 && f[0] == kind {
			out = append(out, f)
		}
	}
	return out
}

// A request is a `→` line: "→    GET https://www.lab.test/  h2".
type request struct{ method, url, proto string }

// requests returns the request lines of report, in order.
func requests(report string) []request {
	var out []request
	for _, f := range linesOf(report, "→") {
		r := request{}
		r.method, r.url, _ = strings.Cut(f[1], " ")
		if len(f) >= 3 {
			r.proto = f[2]
		}
		out = append(out, r)
	}
	return out
}

// responses returns the fields of the response lines (`←`) of report
// after the arrow, in order: "200 OK", "text/html", "190 B", "0.4 ms".
func responses(report string) [][]string {
	var out [][]string
	for _, f := range linesOf(report, "←") {
		out = append(out, f[1:])
	}
	return out
}

// A tlsLine is a `tls` line: "tls  www.lab.test  TLS 1.3  h2  intercepted",
// or "tls  www.lab.test  ✗ upstream: …".
type tlsLine struct {
	host    string
	version string
	alpn    string // "" when the line shows none
	how     string // intercepted or passthrough
	err     string // after "✗ ", for a failure
}

// tlsLines returns the tls lines of report, in order.
func tlsLines(report string) []tlsLine {
	var out []tlsLine
	for _, f := range linesOf(report, "tls") {
		l := tlsLine{host: f[1]}
		if len(f) >= 3 && strings.HasPrefix(f[2], "✗") {
			l.err = strings.TrimSpace(strings.TrimPrefix(strings.Join(f[2:], "  "), "✗"))
			out = append(out, l)
			continue
		}
		if len(f) >= 4 {
			l.version, l.how = f[2], f[len(f)-1]
			if len(f) >= 5 {
				l.alpn = strings.Join(f[3:len(f)-1], "  ")
			}
		}
		out = append(out, l)
	}
	return out
}

// wantTLS fails t unless report has exactly one tls line, and it says
// host, version, alpn and how.
func wantTLS(t testing.TB, report string, want tlsLine) {
	t.Helper()
	got := tlsLines(report)
	if len(got) != 1 || got[0] != want {
		t.Errorf("report's tls lines = %+v; want one %+v; report:\n%s", got, want, report)
	}
}

// wantExchanges fails t unless the report's request lines are exactly
// reqs, in order, and its response lines start with the fields of resps,
// in order.
func wantExchanges(t testing.TB, report string, reqs []request, resps [][]string) {
	t.Helper()
	if got := requests(report); !slices.Equal(got, reqs) {
		t.Errorf("report's requests = %q; want %q; report:\n%s", got, reqs, report)
	}
	got := responses(report)
	ok := len(got) == len(resps)
	for i := 0; ok && i < len(resps); i++ {
		ok = len(got[i]) >= len(resps[i]) && slices.Equal(got[i][:len(resps[i])], resps[i])
	}
	if !ok {
		t.Errorf("report's responses = %q; want lines that start with %q; report:\n%s", got, resps, report)
	}
}

// size renders a byte count as the report does: "615 B", "12.4 KB",
// "3.1 MB".
func size(n int) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f KB", float64(n)/1000)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}

// TestTLSMatchers checks the helpers above on the documented format.
func TestTLSMatchers(t *testing.T) {
	const report = `dns  www.lab.test A → 203.0.113.10  0.6 ms
tls   www.lab.test  TLS 1.3  h2  intercepted
tls   203.0.113.10:443  TLS 1.2  intercepted
tls   www.lab.test  TLS 1.3  passthrough
tls  www.lab.test  ✗ upstream: tls: failed to verify certificate: x509: certificate signed by unknown authority
→    GET https://www.lab.test/old                             http/1.1
       X-Tls:  not a line
←    301 Moved Permanently  text/html  169 B                  0.2 ms
→    GET https://www.lab.test/new                             http/1.1
←    200 OK  text/plain  123.0 KB (gzip 7.9 KB)               0.1 ms
ws   ↑ close  5 B  1000 bye
tcp  203.0.113.10:443       www.lab.test  ↑158 B  ↓667 B  33 ms  closed
`
	wantTLSLines := []tlsLine{
		{host: "www.lab.test", version: "TLS 1.3", alpn: "h2", how: "intercepted"},
		{host: "203.0.113.10:443", version: "TLS 1.2", how: "intercepted"},
		{host: "www.lab.test", version: "TLS 1.3", how: "passthrough"},
		{host: "www.lab.test", err: "upstream: tls: failed to verify certificate: x509: certificate signed by unknown authority"},
	}
	if got := tlsLines(report); !slices.Equal(got, wantTLSLines) {
		t.Errorf("tlsLines = %+v; want %+v", got, wantTLSLines)
	}
	wantExchanges(t, report,
		[]request{{"GET", "https://www.lab.test/old", "http/1.1"}, {"GET", "https://www.lab.test/new", "http/1.1"}},
		[][]string{{"301 Moved Permanently", "text/html", "169 B"}, {"200 OK", "text/plain", "123.0 KB (gzip 7.9 KB)"}})
	if got, want := linesOf(report, "ws"), [][]string{{"ws", "↑ close", "5 B", "1000 bye"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("linesOf(ws) = %q; want %q", got, want)
	}
	for n, want := range map[int]string{0: "0 B", 999: "999 B", 1000: "1.0 KB", 123040: "123.0 KB", 5_000_000: "5.0 MB"} {
		if got := size(n); got != want {
			t.Errorf("size(%d) = %q; want %q", n, got, want)
		}
	}
}
