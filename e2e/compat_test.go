package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/htapod/htapod/internal/lab"
)

// compatFile is the table TestCompatibility checks, and writes when
// HTAPOD_WRITE_COMPAT=1.
const compatFile = "../docs/compatibility.md"

// A compatClient is one row of docs/compatibility.md: a client, how it
// finds its CAs, and the command that fetches the lab's HTTPS page.
type compatClient struct {
	name, finds string
	version     []string // prints the version on its first line
	argv        []string // fetches {URL} (substituted) through htapod
	stdin       string
	env         []string // the client's own settings (not CA ones)
	// ok says whether the run worked: by default, the page on stdout.
	// Clients that fetch something other than a page (a registry, a git
	// remote) succeed when the request reached the server: the report
	// has the GET, and the client printed no certificate error.
	reached bool
	need    string // program or python module, see need
}

const compatURL = "https://www.lab.test/"

var compatClients = []compatClient{
	{name: "curl (OpenSSL)", finds: "`CURL_CA_BUNDLE`, `SSL_CERT_FILE`/`SSL_CERT_DIR`, else the system bundle",
		version: []string{"curl", "--version"}, argv: []string{"curl", "-sS", "--max-time", "20", "{URL}"}, need: "curl"},
	{name: "wget (GnuTLS)", finds: "GnuTLS's system trust (the system bundle)",
		version: []string{"wget", "--version"}, argv: []string{"wget", "-qO-", "--timeout=20", "{URL}"}, need: "wget"},
	{name: "gnutls-cli", finds: "the system bundle",
		version: []string{"gnutls-cli", "--version"}, argv: []string{"gnutls-cli", "--logfile=/dev/null", "www.lab.test"},
		stdin: "GET / HTTP/1.0\r\nHost: www.lab.test\r\n\r\n", need: "gnutls-cli"},
	{name: "openssl s_client", finds: "OpenSSL's default file and directory (`SSL_CERT_FILE`, `SSL_CERT_DIR`)",
		version: []string{"openssl", "version"}, argv: []string{"openssl", "s_client", "-quiet", "-verify_return_error", "-connect", "www.lab.test:443", "-servername", "www.lab.test"},
		stdin: "GET / HTTP/1.0\r\nHost: www.lab.test\r\n\r\n", need: "openssl"},
	{name: "Python urllib", finds: "OpenSSL's defaults (`SSL_CERT_FILE`, `SSL_CERT_DIR`)",
		version: []string{"/usr/bin/python3", "--version"},
		argv:    []string{"/usr/bin/python3", "-c", "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=20).read().decode())", "{URL}"}},
	{name: "Python requests", finds: "`REQUESTS_CA_BUNDLE`, `CURL_CA_BUNDLE`, else certifi (Debian's: the system bundle)",
		version: []string{"/usr/bin/python3", "-c", "import requests; print(requests.__version__)"},
		argv:    []string{"/usr/bin/python3", "-c", "import requests,sys; sys.stdout.write(requests.get(sys.argv[1], timeout=20).text)", "{URL}"}, need: "requests"},
	{name: "Python httpx", finds: "`SSL_CERT_FILE`, `SSL_CERT_DIR`, else certifi",
		version: []string{"/usr/bin/python3", "-c", "import httpx; print(httpx.__version__)"},
		argv:    []string{"/usr/bin/python3", "-c", "import httpx,sys; sys.stdout.write(httpx.get(sys.argv[1], timeout=20).text)", "{URL}"}, need: "httpx"},
	{name: "pip download", finds: "`PIP_CERT`/pip.conf, `REQUESTS_CA_BUNDLE`, else certifi",
		version: []string{"/usr/bin/python3", "-m", "pip", "--version"},
		argv:    []string{"/usr/bin/python3", "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--retries", "0", "--timeout", "20", "-d", "pipdl", "--index-url", "{URL}simple/", "nothing-here"},
		reached: true, need: "pip"},
	{name: "Node https", finds: "Node's own roots + `NODE_EXTRA_CA_CERTS`",
		version: []string{"node", "--version"}, argv: []string{"node", "-e", "require('https').get(process.argv[1], r => r.pipe(process.stdout))", "{URL}"}, need: "node"},
	{name: "Node fetch", finds: "Node's own roots + `NODE_EXTRA_CA_CERTS`",
		version: []string{"node", "--version"}, argv: []string{"node", "-e", "fetch(process.argv[1]).then(r => r.text()).then(t => process.stdout.write(t))", "{URL}"}, need: "node"},
	{name: "npm", finds: "`cafile` (.npmrc, `NPM_CONFIG_CAFILE`), else Node's roots + `NODE_EXTRA_CA_CERTS`",
		version: []string{"npm", "--version"}, argv: []string{"npm", "view", "--registry", "{URL}", "--fetch-retries", "0", "nothing-here"},
		reached: true, need: "npm"},
	{name: "Go net/http", finds: "`SSL_CERT_FILE`, `SSL_CERT_DIR`, else the system bundles and directories",
		version: []string{"go", "version"}, argv: []string{"./gofetch", "{URL}"}, need: "go"},
	{name: "go mod download (GOPROXY)", finds: "as Go net/http",
		version: []string{"go", "version"}, argv: []string{"go", "mod", "download", "-x", "example.com/nothing@v1.0.0"},
		env: []string{"GOPROXY={URL}", "GOSUMDB=off", "GOTOOLCHAIN=local", "GOFLAGS=-modcacherw"}, reached: true, need: "go"},
	{name: "Java HttpClient", finds: "the JDK's cacerts (the system's Java store)",
		version: []string{"java", "-version"}, argv: []string{"java", "Fetch.java", "{URL}"}, need: "java"},
	{name: "git over HTTPS", finds: "`GIT_SSL_CAINFO`, http.sslCAInfo, else libcurl's (the system bundle)",
		version: []string{"git", "--version"}, argv: []string{"git", "ls-remote", "{URL}repo.git"}, reached: true, need: "git"},
	{name: "apt (apt-helper download-file)", finds: "`Acquire::https::CaInfo`, else GnuTLS's system trust (the system bundle)",
		version: []string{"apt-get", "--version"},
		argv:    []string{"sh", "-c", `/usr/lib/apt/apt-helper download-file "$1" page >&2 && cat page`, "sh", "{URL}"}, need: "apt-get"},
	{name: "Ruby net/http", finds: "OpenSSL's defaults (`SSL_CERT_FILE`, `SSL_CERT_DIR`)",
		version: []string{"ruby", "--version"}, argv: []string{"ruby", "-rnet/http", "-e", "print Net::HTTP.get(URI(ARGV[0]))", "{URL}"}, need: "ruby"},
	{name: "PHP curl", finds: "libcurl's (the system bundle; php.ini's curl.cainfo)",
		version: []string{"php", "--version"}, argv: []string{"php", "-r", "$c = curl_init($argv[1]); curl_setopt($c, CURLOPT_RETURNTRANSFER, 1); $b = curl_exec($c); if ($b === false) { fwrite(STDERR, curl_error($c)); exit(1); } echo $b;", "{URL}"}, need: "php"},
	{name: "Chromium (headless)", finds: "its own root store + its CACertificates policy + `~/.pki/nssdb`",
		version: []string{"chromium", "--version"}, argv: append(append([]string{}, chromiumArgs...), "{URL}"), need: "chromium"},
	{name: "Firefox ESR (headless)", finds: "its built-in roots + the profile's cert9.db (+ policies' Certificates.Install)",
		version: []string{"firefox-esr", "--version"}, argv: []string{"firefox-esr", "--headless", "--screenshot", "shot.png", "{URL}"}, reached: true, need: "firefox-esr"},
}

// TestCompatibility runs each client of docs/compatibility.md through
// htapod against the lab's HTTPS site, intercepted, with no flag and no
// variable of its own, and checks the table's verdicts. With
// HTAPOD_WRITE_COMPAT=1 it writes the table (with the versions of this
// machine) instead of checking it.
func TestCompatibility(t *testing.T) {
	e := newTLSEnv(t)
	prepareCompat(t, e)
	rows := []string{}
	all := true // every row ran (-run may pick some)
	for _, c := range compatClients {
		verdict, version, ran := "not installed", "", false
		t.Run(c.name, func(t *testing.T) {
			ran = true
			need(t, c.need)
			version = firstLine(e, c.version)
			if ok, why := e.compatRun(c); ok {
				verdict = "yes"
			} else {
				verdict = "no"
				t.Errorf("%s through htapod: %s", c.name, why)
			}
		})
		all = all && ran
		rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s |", c.name, version, c.finds, verdict))
	}
	table := compatHeader + strings.Join(rows, "\n") + "\n"
	if !all {
		t.Log("some rows did not run: the table is neither written nor checked")
		return
	}
	if os.Getenv("HTAPOD_WRITE_COMPAT") == "1" {
		if err := os.WriteFile(compatFile, []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	old, err := os.ReadFile(compatFile)
	if err != nil {
		t.Fatalf("read %s: %v (HTAPOD_WRITE_COMPAT=1 writes it)", compatFile, err)
	}
	if got, want := verdicts(table), verdicts(string(old)); got != want {
		t.Errorf("%s is not current (rerun with HTAPOD_WRITE_COMPAT=1): verdicts now\n%s\nin the file\n%s", compatFile, got, want)
	}
}

const compatHeader = `# Compatibility: clients intercepted with no flag

Written by ` + "`HTAPOD_WRITE_COMPAT=1 go test -run TestCompatibility ./e2e/`" + ` (as root: it
runs the lab) and checked by every run of the same test without the
variable: each client fetches the lab's HTTPS page through
` + "`htapod -- CLIENT URL`" + `, as the unprivileged user with a HOME of its own and
no CA variable of its own, and "yes" means it got the page (for pip, npm,
git and Firefox, whose target is not a page: the request reached the
server, and no certificate error). A run that does not match its row fails
the test; the versions are those of the machine that last wrote the file
(Debian 12 and its packages; Node.js and npm from the machine's own
nodejs package, Go from its toolchain).

How each store gets the CA is in docs/design.md ("Trust inside the box").
A client that trusts only a file of its own (a config file, a pinned
certificate) keeps its trust and refuses htapod's certificate: the report
says so at the end of the run, with the fix. Known limits: a CA file named
in git's, pip's or npm's config file (not in a variable) is kept as the
only trust of that client; Chromium where neither a policy directory
(/etc/chromium, /etc/opt/chrome) nor ~/.pki/nssdb exists is not
prepared (htapod doctor says so); a Firefox profile created during a run
keeps that run's CA (its key is gone with the run). A user's own variables
are tested in TestTrustKeepsUserCA.

| client | version | how it finds CAs | works intercepted, no flag |
| --- | --- | --- | --- |
`

// verdicts is the client and verdict columns of a table.
func verdicts(table string) string {
	var out []string
	for _, line := range strings.Split(table, "\n") {
		f := strings.Split(line, " | ")
		if len(f) == 4 && strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| client") && !strings.HasPrefix(line, "| ---") {
			out = append(out, f[0]+" | "+f[3])
		}
	}
	return strings.Join(out, "\n")
}

// compatRun runs c through htapod and says whether it worked, and if not
// why.
func (e *tlsEnv) compatRun(c compatClient) (bool, string) {
	argv := make([]string, len(c.argv))
	for i, a := range c.argv {
		argv[i] = strings.Replace(a, "{URL}", compatURL, 1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	defer cancel()
	env := make([]string, len(c.env))
	for i, kv := range c.env {
		env[i] = strings.Replace(kv, "{URL}", compatURL, 1)
	}
	res := e.Run(ctx, lab.RunOptions{Stdin: []byte(c.stdin), Env: env},
		append([]string{e.bin, "--upstream-ca", e.pki.CAFile, "--"}, argv...)...)
	report := string(res.Stderr)
	if res.TimedOut {
		return false, fmt.Sprintf("timed out: %v", res)
	}
	if strings.Contains(report, "refused htapod's certificate") {
		return false, fmt.Sprintf("it refused htapod's certificate: %v", res)
	}
	if !c.reached {
		if !bytes.Contains(res.Stdout, []byte("Welcome to the htapod lab")) {
			return false, fmt.Sprintf("no page: %v", res)
		}
		return true, ""
	}
	for _, r := range requests(report) {
		if r.method == "GET" && strings.HasPrefix(r.url, compatURL) {
			return true, ""
		}
	}
	return false, fmt.Sprintf("no GET of %s in the report: %v", compatURL, res)
}

// firstLine is the first line c prints (stdout, else stderr), run as the
// unprivileged user outside htapod.
func firstLine(e *tlsEnv, argv []string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := e.Run(ctx, lab.RunOptions{}, argv...)
	out := res.Stdout
	if len(bytes.TrimSpace(out)) == 0 {
		out = res.Stderr
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	// The version, not the build details: "curl 7.88.1 (x86_64…) libcurl…",
	// "pip 23.0.1 from /usr/lib/…", "PHP 8.2.36 (cli) (built: …)".
	for _, sep := range []string{" (", " from ", " built "} {
		line, _, _ = strings.Cut(line, sep)
	}
	return strings.ReplaceAll(strings.TrimSpace(line), "|", "/")
}

// prepareCompat puts the Go client and the Java program in the user's
// home, where the rows run.
func prepareCompat(t *testing.T, e *tlsEnv) {
	t.Helper()
	home := e.Home()
	e.WriteFile("Fetch.java", []byte(`import java.net.URI;
import java.net.http.*;
public class Fetch {
  public static void main(String[] a) throws Exception {
    var c = HttpClient.newHttpClient();
    var r = c.send(HttpRequest.newBuilder(URI.create(a[0])).build(), HttpResponse.BodyHandlers.ofString());
    System.out.print(r.body());
  }
}
`), 0o644)
	if _, err := exec.LookPath("go"); err == nil {
		src := filepath.Join(t.TempDir(), "main.go")
		os.WriteFile(src, []byte(`package main

import (
	"io"
	"net/http"
	"os"
)

func main() {
	r, err := http.Get(os.Args[1])
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	io.Copy(os.Stdout, r.Body)
}
`), 0o644)
		bin := filepath.Join(home, "gofetch")
		if out, err := exec.Command("go", "build", "-o", bin, src).CombinedOutput(); err != nil {
			t.Fatalf("build the Go client: %v\n%s", err, out)
		}
		uid, gid := lab.User(t)
		os.Chown(bin, uid, gid)
	}
}
