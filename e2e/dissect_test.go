package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/htapod/htapod/internal/lab"
)

// TestDissectRedirect follows a 301 with curl -L: the report shows both
// exchanges, in order, with the status and size of each response as the
// client got it.
func TestDissectRedirect(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	old, new := labURL(443, "/old"), labURL(443, "/new")
	// The 301's body is nginx's own page; its size is what a client gets.
	direct := e.direct(lab.RunOptions{}, e.curlLab(old)...)
	if direct.ExitCode != 0 || !strings.Contains(string(direct.Stdout), "301") {
		t.Fatalf("curl %s without htapod: %v; want nginx's 301 page", old, direct)
	}
	moved := len(direct.Stdout)
	for _, proto := range []string{"http/1.1", "h2"} {
		t.Run(proto, func(t *testing.T) {
			flag := map[string]string{"http/1.1": "--http1.1", "h2": "--http2"}[proto]
			res := e.tap(lab.RunOptions{}, "--", "curl", "-sSL", flag, old)
			if res.ExitCode != 0 || string(res.Stdout) != lab.NewPage {
				t.Fatalf("htapod -- curl -L %s: %v; want exit 0 and %q", old, res, lab.NewPage)
			}
			wantExchanges(t, string(res.Stderr),
				[]request{{"GET", old, proto}, {"GET", new, proto}},
				[][]string{{"301 Moved Permanently", "text/html", size(moved)}, {"200 OK", "text/plain", size(len(lab.NewPage))}})
		})
	}
}

// TestDissectChunkedGzip fetches a text that nginx sends gzip-compressed
// and chunked: the report gives the decoded size and, in brackets, the
// compressed size that crossed the wire.
func TestDissectChunkedGzip(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	url := labURL(443, "/text.txt")
	headers, body := filepath.Join(e.Home(), "headers.txt"), filepath.Join(e.Home(), "body.txt")
	argv := []string{"curl", "-sS", "--http1.1", "--compressed", "-D", headers, "-o", body, "-w", "%{size_download}", url}
	res := e.tap(lab.RunOptions{}, append([]string{"--"}, argv...)...)
	if res.ExitCode != 0 {
		t.Fatalf("htapod -- %q: %v", argv, res)
	}
	got, err := os.ReadFile(body)
	if err != nil || string(got) != lab.TextFile() {
		t.Fatalf("curl --compressed wrote %d bytes (%v); want the %d bytes of the text", len(got), err, len(lab.TextFile()))
	}
	head, _ := os.ReadFile(headers)
	for _, h := range []string{"transfer-encoding: chunked", "content-encoding: gzip"} {
		if !strings.Contains(strings.ToLower(string(head)), h) {
			t.Fatalf("nginx's response lacks %q; the test needs it:\n%s", h, head)
		}
	}
	wire, err := strconv.Atoi(strings.TrimSpace(string(res.Stdout)))
	if err != nil {
		t.Fatalf("curl -w %%{size_download} printed %q", res.Stdout)
	}
	wantExchanges(t, string(res.Stderr), []request{{"GET", url, "http/1.1"}},
		[][]string{{"200 OK", "text/plain", size(len(lab.TextFile())) + " (gzip " + size(wire) + ")"}})
}

// TestDissectKeepAlive fetches three URLs over one connection: one
// exchange line pair per URL, in order, one TLS handshake and one flow.
func TestDissectKeepAlive(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	urls := []string{labURL(443, "/"), labURL(443, "/new"), labURL(443, "/data.json")}
	want := lab.IndexHTML + lab.NewPage + lab.JSONDoc
	for _, proto := range []string{"http/1.1", "h2"} {
		t.Run(proto, func(t *testing.T) {
			flag := map[string]string{"http/1.1": "--http1.1", "h2": "--http2"}[proto]
			argv := append([]string{"curl", "-4", "-sS", flag}, urls...)
			res := e.tap(lab.RunOptions{}, append([]string{"-v", "--"}, argv...)...)
			if res.ExitCode != 0 || string(res.Stdout) != want {
				t.Fatalf("htapod -- %q: %v; want the three documents", argv, res)
			}
			report := string(res.Stderr)
			wantExchanges(t, report,
				[]request{{"GET", urls[0], proto}, {"GET", urls[1], proto}, {"GET", urls[2], proto}},
				[][]string{
					{"200 OK", "text/html", size(len(lab.IndexHTML))},
					{"200 OK", "text/plain", size(len(lab.NewPage))},
					{"200 OK", "application/json", size(len(lab.JSONDoc))},
				})
			if n := len(tlsLines(report)); n != 1 {
				t.Errorf("report has %d tls lines; want 1 (one connection):\n%s", n, report)
			}
			if n := countFlows(report, "tcp", www443[0], "closed"); n != 1 {
				t.Errorf("report has %d closed flows to %s; want 1:\n%s", n, www443[0], report)
			}
		})
	}
}

// TestDissectH2Load sends 200 requests over 2 HTTP/2 connections with up
// to 100 streams each: the report has exactly 200 exchanges, all 200 OK,
// as h2load itself counts.
func TestDissectH2Load(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	url := labURL(443, "/")
	argv := []string{"h2load", "-n", "200", "-c", "2", "-m", "100", "-N", "10", url}
	res := e.tap(lab.RunOptions{}, append([]string{"-v", "--"}, argv...)...)
	if res.ExitCode != 0 || !strings.Contains(string(res.Stdout), "200 succeeded") {
		t.Fatalf("htapod -- %q: %v; want exit 0 and 200 succeeded", argv, res)
	}
	report := string(res.Stderr)
	reqs, resps := requests(report), responses(report)
	ok := 0
	for _, r := range resps {
		if r[0] == "200 OK" && len(r) > 2 && r[2] == size(len(lab.IndexHTML)) {
			ok++
		}
	}
	if len(reqs) != 200 || len(resps) != 200 || ok != 200 {
		t.Errorf("report has %d requests, %d responses, %d of them 200 OK with %s; want 200 of each",
			len(reqs), len(resps), ok, size(len(lab.IndexHTML)))
	}
	for _, r := range reqs {
		if r != (request{"GET", url, "h2"}) {
			t.Errorf("report has request %q; want only %q", r, request{"GET", url, "h2"})
			break
		}
	}
	if n := len(tlsLines(report)); n != 2 {
		t.Errorf("report has %d tls lines; want 2 (h2load -c 2)", n)
	}
}

// TestDissectHeadersBodies checks -H and -b: the request's and response's
// headers, and a JSON body pretty-printed.
func TestDissectHeadersBodies(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, []byte(lab.JSONDoc), "", "  "); err != nil {
		t.Fatal(err)
	}
	var body []string
	for _, line := range strings.Split(pretty.String(), "\n") {
		body = append(body, strings.TrimRight(line, " "))
	}
	url := labURL(443, "/data.json")
	for _, proto := range []string{"http/1.1", "h2"} {
		t.Run(proto, func(t *testing.T) {
			flag := map[string]string{"http/1.1": "--http1.1", "h2": "--http2"}[proto]
			res := e.tap(lab.RunOptions{}, "-H", "-b", "--", "curl", "-sS", flag, "-H", "X-Lab-Test: hello", url)
			if res.ExitCode != 0 || string(res.Stdout) != lab.JSONDoc {
				t.Fatalf("htapod -H -b -- curl %s: %v; want the JSON document", url, res)
			}
			report := string(res.Stderr)
			indented := map[string]bool{}
			for _, l := range strings.Split(report, "\n") {
				if strings.HasPrefix(l, "       ") {
					indented[strings.ToLower(strings.Join(strings.Fields(l), " "))] = true
				}
			}
			for _, h := range []string{"x-lab-test: hello", "x-lab-server: nginx-lab", "content-type: application/json"} {
				if !indented[h] {
					t.Errorf("report lacks the header line %q; report:\n%s", h, report)
				}
			}
			// The body's lines, indented, one after the other.
			var lines []string
			for _, l := range strings.Split(report, "\n") {
				lines = append(lines, strings.TrimSpace(l))
			}
			want := make([]string, len(body))
			for i, l := range body {
				want[i] = strings.TrimSpace(l)
			}
			if !containsRun(lines, want) || !strings.Contains(report, "\n"+strings.Repeat(" ", 7)+"  \"name\": \"lab\",\n") {
				t.Errorf("report lacks the pretty-printed body\n%s\nreport:\n%s", pretty.String(), report)
			}
		})
	}
}

// containsRun reports whether want occurs in lines as consecutive lines.
func containsRun(lines, want []string) bool {
	for i := 0; i+len(want) <= len(lines); i++ {
		match := true
		for j := range want {
			if lines[i+j] != want[j] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// TestDissectDNSServer asks the lab's DNS server directly, as dig @server
// does: the report has a dns line with the question and the answer.
func TestDissectDNSServer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.htapod("--", "dig", "+time=3", "+tries=1", "+short", "@"+lab.DNS4, "www.lab.test")
	if res.ExitCode != 0 || string(res.Stdout) != lab.WWW4+"\n" {
		t.Fatalf("htapod -- dig @%s www.lab.test: %v; want %s", lab.DNS4, res, lab.WWW4)
	}
	found := false
	for _, f := range linesOf(string(res.Stderr), "dns") {
		line := strings.Join(f, "  ")
		if strings.Contains(line, "www.lab.test A → "+lab.WWW4) && strings.Contains(line, "@"+lab.DNS4) {
			found = true
		}
	}
	if !found {
		t.Errorf("report has no line \"dns  www.lab.test A → %s  …  @%s\"; report:\n%s", lab.WWW4, lab.DNS4, res.Stderr)
	}
}
