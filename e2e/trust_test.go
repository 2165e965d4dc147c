package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/htapod/htapod/internal/lab"
)

// TestTrustKeepsUserCA runs clients whose user trusts a private CA (the
// lab's) through a CA variable of their own, as a company's servers need:
// with --passthrough for the host the client must succeed as it does
// without htapod (it sees the real certificate and trusts it through the
// user's variable), and intercepted it must succeed too (the variable's
// file gets htapod's CA). The measured bug: htapod set CURL_CA_BUNDLE,
// which curl reads before SSL_CERT_FILE, and curl failed with error 60.
func TestTrustKeepsUserCA(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	url := labURL(443, "/")
	caDir := userCertDir(t, e)
	py := func(code string) []string { return []string{"/usr/bin/python3", "-c", code} }
	tests := []struct {
		name string
		env  []string
		argv []string
		need string // a program or Python module the client needs
		want string // on stdout; "" means the index page
	}{
		{"curl SSL_CERT_FILE", []string{"SSL_CERT_FILE=" + e.pki.CAFile},
			[]string{"curl", "-sS", "--max-time", "20", url}, "curl", ""},
		{"curl CURL_CA_BUNDLE", []string{"CURL_CA_BUNDLE=" + e.pki.CAFile},
			[]string{"curl", "-sS", "--max-time", "20", url}, "curl", ""},
		{"curl SSL_CERT_DIR", []string{"SSL_CERT_DIR=" + caDir},
			[]string{"curl", "-sS", "--max-time", "20", url}, "curl", ""},
		{"python urllib SSL_CERT_FILE", []string{"SSL_CERT_FILE=" + e.pki.CAFile},
			py("import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('" + url + "', timeout=20).read().decode())"), "", ""},
		{"python requests REQUESTS_CA_BUNDLE", []string{"REQUESTS_CA_BUNDLE=" + e.pki.CAFile},
			py("import requests,sys; sys.stdout.write(requests.get('" + url + "', timeout=20).text)"), "requests", ""},
		{"python requests CURL_CA_BUNDLE", []string{"CURL_CA_BUNDLE=" + e.pki.CAFile},
			py("import requests,sys; sys.stdout.write(requests.get('" + url + "', timeout=20).text)"), "requests", ""},
		{"python httpx SSL_CERT_DIR", []string{"SSL_CERT_DIR=" + caDir},
			py("import httpx,sys; sys.stdout.write(httpx.get('" + url + "', timeout=20).text)"), "httpx", ""},
		{"node NODE_EXTRA_CA_CERTS", []string{"NODE_EXTRA_CA_CERTS=" + e.pki.CAFile},
			[]string{"node", "-e", "require('https').get('" + url + "', r => r.pipe(process.stdout))"}, "node", ""},
		{"git GIT_SSL_CAINFO", []string{"GIT_SSL_CAINFO=" + e.pki.CAFile},
			[]string{"sh", "-c", "rm -rf c && git clone -q " + labURL(443, "/repo.git") + " c && cat c/README"}, "git", lab.RepoReadme},
		// Combinations: the variable the client reads first is the user's.
		{"curl CURL_CA_BUNDLE over SSL_CERT_FILE", []string{"CURL_CA_BUNDLE=" + e.pki.CAFile, "SSL_CERT_FILE=" + tlsmitmSystemBundle},
			[]string{"curl", "-sS", "--max-time", "20", url}, "curl", ""},
		{"requests REQUESTS_CA_BUNDLE over CURL_CA_BUNDLE", []string{"REQUESTS_CA_BUNDLE=" + e.pki.CAFile, "CURL_CA_BUNDLE=" + tlsmitmSystemBundle},
			py("import requests,sys; sys.stdout.write(requests.get('" + url + "', timeout=20).text)"), "requests", ""},
		{"curl SSL_CERT_FILE with NODE_EXTRA_CA_CERTS and SSL_CERT_DIR", []string{"SSL_CERT_FILE=" + e.pki.CAFile,
			"NODE_EXTRA_CA_CERTS=" + e.pki.CAFile, "SSL_CERT_DIR=" + caDir},
			[]string{"curl", "-sS", "--max-time", "20", url}, "curl", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			need(t, tt.need)
			want := tt.want
			if want == "" {
				want = lab.IndexHTML
			}
			opts := lab.RunOptions{Env: tt.env}
			if res := e.direct(opts, tt.argv...); res.ExitCode != 0 || string(res.Stdout) != want {
				t.Fatalf("without htapod, %q with %q: %v; want the index page (the baseline)", tt.argv, tt.env, res)
			}
			for _, mode := range [][]string{{"--passthrough", "www.lab.test"}, nil} {
				args := append(append([]string{"-v"}, mode...), "--")
				res := e.tap(opts, append(args, tt.argv...)...)
				if res.ExitCode != 0 || string(res.Stdout) != want {
					t.Errorf("%s htapod %q -- %q: %v; want exit 0 and the page", strings.Join(tt.env, " "), mode, tt.argv, res)
					continue
				}
				how := "intercepted"
				if mode != nil {
					how = "passthrough"
				}
				if l := tlsLines(string(res.Stderr)); len(l) == 0 || l[0].how != how {
					t.Errorf("htapod %q: tls lines %+v; want the flow %s", mode, l, how)
				}
			}
		})
	}
}

// tlsmitmSystemBundle is Debian's system bundle: a CA file that does not
// hold the lab's CA.
const tlsmitmSystemBundle = "/etc/ssl/certs/ca-certificates.crt"

// userCertDir makes an OpenSSL hashed directory holding the lab's CA, as a
// user's SSL_CERT_DIR would be.
func userCertDir(t *testing.T, e *tlsEnv) string {
	t.Helper()
	dir := filepath.Join(e.Home(), "certdir")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(e.pki.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	e.WriteFile("certdir/lab-ca.pem", b, 0o644)
	if out, err := exec.Command("openssl", "rehash", dir).CombinedOutput(); err != nil {
		t.Fatalf("openssl rehash %s: %v\n%s", dir, err, out)
	}
	return dir
}

// need skips t when what (a program, or a module of Debian's python3
// when it is "requests" or "httpx") is missing.
func need(t *testing.T, what string) {
	t.Helper()
	switch what {
	case "":
	case "requests", "httpx", "pip":
		if exec.Command("/usr/bin/python3", "-c", "import "+what).Run() != nil {
			t.Skipf("python3 has no %s module (scripts/test-setup.sh installs it)", what)
		}
	default:
		if _, err := exec.LookPath(what); err != nil {
			t.Skipf("no %s on this machine (scripts/test-setup.sh installs it)", what)
		}
	}
}

// TestTrustHashedDir checks the box's /etc/ssl/certs as a directory
// (CApath) alone, without any bundle file: the CA is found under its
// OpenSSL hash, and the host's own links are still there.
func TestTrustHashedDir(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	req := []byte("GET / HTTP/1.0\r\nHost: www.lab.test\r\n\r\n")
	argv := []string{"openssl", "s_client", "-quiet", "-verify_return_error", "-no-CAfile", "-no-CAstore",
		"-CApath", "/etc/ssl/certs", "-connect", "www.lab.test:443", "-servername", "www.lab.test"}
	res := e.tap(lab.RunOptions{Stdin: req}, append([]string{"--"}, argv...)...)
	if res.ExitCode != 0 || !strings.Contains(string(res.Stdout), "Welcome to the htapod lab") {
		t.Errorf("htapod -- %q: %v; want the page", argv, res)
	}
	host, err := os.ReadDir("/etc/ssl/certs")
	if err != nil {
		t.Fatal(err)
	}
	res = e.tap(lab.RunOptions{}, "--", "ls", "/etc/ssl/certs")
	box := strings.Fields(string(res.Stdout))
	if len(box) < len(host)+2 {
		t.Errorf("the box's /etc/ssl/certs has %d entries; want the host's %d + the CA and its hash link", len(box), len(host))
	}
}

// TestTrustReport checks what the report says about trust: with -v, the
// stores given the CA; at the end of a run, each server whose client
// refused the CA, with the fix.
func TestTrustReport(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	res := e.tap(lab.RunOptions{}, "-v", "--", "true")
	if !strings.Contains(string(res.Stderr), "trust: the CA is in system bundles") {
		t.Errorf("htapod -v -- true: no notice of the trust stores; report:\n%s", res.Stderr)
	}
	if res := e.tap(lab.RunOptions{}, "--", "true"); strings.Contains(string(res.Stderr), "trust:") {
		t.Errorf("htapod -- true (no -v) shows the trust stores; report:\n%s", res.Stderr)
	}
	res = e.tap(lab.RunOptions{}, "--json", "--", "true")
	if !strings.Contains(string(res.Stderr), `"type":"notice","time"`) ||
		!strings.Contains(string(res.Stderr), `"level":"debug","message":"trust: the CA is in system bundles`) {
		t.Errorf("htapod --json -- true: no debug notice of the trust stores; output:\n%s", res.Stderr)
	}
	// A client that trusts only its own file refuses htapod's certificate
	// (curl --cacert would still read the CA directory).
	argv := []string{"/usr/bin/python3", "-c", "import ssl,urllib.request,sys; " +
		"urllib.request.urlopen(sys.argv[1], timeout=20, context=ssl.create_default_context(cafile=sys.argv[2]))",
		labURL(443, "/"), e.pki.CAFile}
	res = e.tap(lab.RunOptions{}, append([]string{"--"}, argv...)...)
	if res.ExitCode == 0 {
		t.Fatalf("htapod -- %q: %v; want curl to refuse htapod's certificate", argv, res)
	}
	var last string
	for _, l := range strings.Split(strings.TrimSpace(string(res.Stderr)), "\n") {
		if strings.HasPrefix(l, "htapod  warn: a client refused") {
			last = l
		}
	}
	t.Logf("end-of-run notice: %s", last)
	for _, want := range []string{"for www.lab.test", "--passthrough www.lab.test", "SSL_CERT_FILE"} {
		if !strings.Contains(last, want) {
			t.Errorf("end-of-run notice %q lacks %q; report:\n%s", last, want, res.Stderr)
		}
	}
}

// TestTrustDoctor checks that doctor names the stores a run would give
// the CA, browsers included (the lab machine has them).
func TestTrustDoctor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.htapod("doctor")
	out := string(res.Stdout)
	for _, want := range []string{"trust stores", "system bundles"} {
		if !strings.Contains(out, want) {
			t.Errorf("htapod doctor does not say %q: %v", want, res)
		}
	}
	if _, err := exec.LookPath("chromium"); err == nil && !strings.Contains(out, "Chromium policy") {
		t.Errorf("htapod doctor does not name Chromium's store: %v", res)
	}
}
