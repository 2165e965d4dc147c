package e2e

import (
	"bytes"
	"strings"
	"testing"

	"github.com/htapod/htapod/internal/lab"
)

// fetchJava is a Java 11+ HttpClient GET, run in source-file mode (`java
// Fetch.java URL`): the body to stdout, the version and status to stderr.
const fetchJava = `import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

public class Fetch {
    public static void main(String[] args) throws Exception {
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        HttpRequest req = HttpRequest.newBuilder(URI.create(args[0])).timeout(Duration.ofSeconds(20)).build();
        HttpResponse<String> resp = client.send(req, HttpResponse.BodyHandlers.ofString());
        System.err.println(resp.version() + " " + resp.statusCode());
        System.out.print(resp.body());
    }
}
`

// TestTLSClients runs real TLS clients through htapod, each with its own
// way of finding trusted CAs (OpenSSL's bundle and hashed directory,
// GnuTLS, Python's ssl and requests, Node's bundled roots plus
// NODE_EXTRA_CA_CERTS, Go's SSL_CERT_FILE, Java's trust store, git's
// libcurl and the system bundle), and checks that each got the page from the real server
// and that the report shows the request and, with -v, the interception
// with SNI, version and ALPN.
func TestTLSClients(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	client := lab.Client(t)
	fetch := e.WriteFile("Fetch.java", []byte(fetchJava), 0o644)
	newURL := labURL(443, "/new")
	tests := []struct {
		name string
		argv []string
		want string // stdout, exactly
		// The report's requests (GET of these URLs, in order), their
		// protocol, and the tls line's version and ALPN.
		urls    []string
		proto   string
		version string
		alpn    string
	}{
		{
			name: "curl http1.1", argv: []string{"curl", "-sS", "--http1.1", newURL},
			want: lab.NewPage, urls: []string{newURL}, proto: "http/1.1", version: "TLS 1.3", alpn: "http/1.1",
		},
		{
			name: "curl http2", argv: []string{"curl", "-sS", "--http2", newURL},
			want: lab.NewPage, urls: []string{newURL}, proto: "h2", version: "TLS 1.3", alpn: "h2",
		},
		{
			name: "curl TLS 1.2 server", argv: []string{"curl", "-sS", "--tls-max", "1.2", labURL(lab.PortTLS12, "/new")},
			want: lab.NewPage, urls: []string{labURL(lab.PortTLS12, "/new")}, proto: "h2", version: "TLS 1.2", alpn: "h2",
		},
		{
			name: "curl TLS 1.3 server", argv: []string{"curl", "-sS", "--tlsv1.3", labURL(lab.PortTLS13, "/new")},
			want: lab.NewPage, urls: []string{labURL(lab.PortTLS13, "/new")}, proto: "h2", version: "TLS 1.3", alpn: "h2",
		},
		{
			name: "wget", argv: []string{"wget", "-qO-", newURL},
			want: lab.NewPage, urls: []string{newURL}, proto: "http/1.1", version: "TLS 1.3",
		},
		{
			name: "python3 urllib",
			argv: []string{"/usr/bin/python3", "-c", `import sys, urllib.request
sys.stdout.write(urllib.request.urlopen("` + newURL + `", timeout=10).read().decode())`},
			want: lab.NewPage, urls: []string{newURL}, proto: "http/1.1", version: "TLS 1.3", alpn: "http/1.1",
		},
		{
			name: "python3 requests",
			argv: []string{"/usr/bin/python3", "-c", `import sys, requests
r = requests.get("` + newURL + `", timeout=10)
r.raise_for_status()
sys.stdout.write(r.text)`},
			want: lab.NewPage, urls: []string{newURL}, proto: "http/1.1", version: "TLS 1.3", alpn: "http/1.1",
		},
		{
			name: "node https.get",
			argv: []string{"node", "-e", `require("https").get("` + newURL + `", (r) => r.pipe(process.stdout))
	.on("error", (e) => { console.error(e.message); process.exit(1); });`},
			want: lab.NewPage, urls: []string{newURL}, proto: "http/1.1", version: "TLS 1.3",
		},
		{
			name: "node fetch",
			argv: []string{"node", "-e", `fetch("` + newURL + `").then((r) => r.text()).then((t) => process.stdout.write(t),
	(e) => { console.error(e); process.exit(1); });`},
			want: lab.NewPage, urls: []string{newURL}, proto: "http/1.1", version: "TLS 1.3", alpn: "http/1.1",
		},
		{
			name: "go net/http", argv: []string{client, "get", newURL},
			want: lab.NewPage, urls: []string{newURL}, proto: "h2", version: "TLS 1.3", alpn: "h2",
		},
		{
			name: "java HttpClient", argv: []string{"java", fetch, newURL},
			want: lab.NewPage, urls: []string{newURL}, proto: "h2", version: "TLS 1.3", alpn: "h2",
		},
		{
			name: "git clone dumb http",
			argv: []string{"sh", "-c", `git clone -q https://www.lab.test/repo.git clone && cat clone/README`},
			want: lab.RepoReadme, proto: "h2", version: "TLS 1.3", alpn: "h2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.tap(lab.RunOptions{}, append([]string{"-v", "--"}, tt.argv...)...)
			if res.ExitCode != 0 {
				t.Fatalf("htapod -- %q: %v; want exit 0", tt.argv, res)
			}
			if string(res.Stdout) != tt.want {
				t.Errorf("htapod -- %q: stdout = %.200q; want the server's %.200q", tt.argv, res.Stdout, tt.want)
			}
			report := string(res.Stderr)
			wantTLS(t, report, tlsLine{host: "www.lab.test", version: tt.version, alpn: tt.alpn, how: "intercepted"})
			reqs := requests(report)
			if tt.urls != nil {
				var want []request
				for _, u := range tt.urls {
					want = append(want, request{"GET", u, tt.proto})
				}
				wantExchanges(t, report, want, [][]string{{"200 OK", "text/plain"}})
			} else if len(reqs) == 0 || reqs[0].proto != tt.proto || !strings.HasPrefix(reqs[0].url, "https://www.lab.test/repo.git/") {
				t.Errorf("report's requests = %q; want GETs of https://www.lab.test/repo.git/... over %s; report:\n%s",
					reqs, tt.proto, report)
			}
			wantFlow(t, report, "tcp", append(www443, lab.WWW4+":4412", lab.WWW4+":4413"), "closed", "reset")
		})
	}
}

// TestTLSOpenSSL checks with openssl s_client that the command sees a leaf
// issued by htapod's per-run CA (the one the box trusts, whose file
// NODE_EXTRA_CA_CERTS names), and that the box's OpenSSL verifies it.
func TestTLSOpenSSL(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	script := `out=$(openssl s_client -connect www.lab.test:443 -servername www.lab.test </dev/null 2>&1)
printf '%s\n' "$out" | grep -m1 '^Verify return code'
printf '%s\n' "$out" | openssl x509 -noout -issuer -nameopt RFC2253
openssl x509 -in "$NODE_EXTRA_CA_CERTS" -noout -subject -nameopt RFC2253`
	res := e.tap(lab.RunOptions{}, "-v", "--", "sh", "-c", script)
	lines := strings.Split(strings.TrimSpace(string(res.Stdout)), "\n")
	if res.ExitCode != 0 || len(lines) != 3 {
		t.Fatalf("htapod -- openssl s_client: %v; want exit 0 and three lines", res)
	}
	if lines[0] != "Verify return code: 0 (ok)" {
		t.Errorf("openssl s_client in the box: %q; want %q", lines[0], "Verify return code: 0 (ok)")
	}
	issuer, _ := strings.CutPrefix(lines[1], "issuer=")
	ca, _ := strings.CutPrefix(lines[2], "subject=")
	if issuer != ca || !strings.Contains(ca, "htapod") {
		t.Errorf("the leaf's issuer is %q; want htapod's CA %q", issuer, ca)
	}
	wantTLS(t, string(res.Stderr), tlsLine{host: "www.lab.test", version: "TLS 1.3", how: "intercepted"})
	wantFlow(t, string(res.Stderr), "tcp", www443, "closed")
}

// TestTLSStdoutIdentical downloads 5 MB over TLS through htapod and
// directly: the command's stdout must be byte for byte the same, and the
// report must give the size the client got.
func TestTLSStdoutIdentical(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	url := labURL(443, "/big.bin")
	direct := e.direct(lab.RunOptions{}, e.curlLab(url)...)
	if direct.ExitCode != 0 || !bytes.Equal(direct.Stdout, lab.Pattern(lab.BigSize)) {
		t.Fatalf("curl %s without htapod: exit %d, %d bytes; want exit 0 and the %d bytes of the file",
			url, direct.ExitCode, len(direct.Stdout), lab.BigSize)
	}
	res := e.tap(lab.RunOptions{}, "--", "curl", "-sS", url)
	if res.ExitCode != 0 {
		t.Fatalf("htapod -- curl %s: %v", url, res)
	}
	if got, want := sha256sum(res.Stdout), sha256sum(direct.Stdout); got != want {
		t.Errorf("stdout through htapod: %d bytes, sha256 %s; directly: %d bytes, sha256 %s",
			len(res.Stdout), got, len(direct.Stdout), want)
	}
	wantExchanges(t, string(res.Stderr), []request{{"GET", url, "h2"}},
		[][]string{{"200 OK", "application/octet-stream", size(lab.BigSize)}})
}
