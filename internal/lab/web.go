package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Ports of the TLS servers that StartWeb and StartTLSServers run on WWW4.
const (
	// PortTLS12 and PortTLS13 are nginx with the site of StartWeb, each
	// restricted to one version of TLS.
	PortTLS12 = 4412
	PortTLS13 = 4413
	// PortUntrusted, PortExpired and PortWrongName are Go HTTPS servers
	// that present PKI.Untrusted, PKI.Expired and PKI.WrongName: a client
	// that verifies must refuse each.
	PortUntrusted = 8441
	PortExpired   = 8442
	PortWrongName = 8443
)

// The site that StartWeb serves. Paths are those of the URLs.
const (
	// NewPage is the body of /new, where /old redirects with a 301.
	NewPage = "the new page\n"
	// JSONDoc is /data.json, compact, served as application/json.
	JSONDoc = `{"name":"lab","items":[1,2,3],"nested":{"ok":true,"note":"pretty"}}`
	// RepoReadme is the README of the git repository /repo.git, which is
	// served as static files (git's dumb HTTP protocol).
	RepoReadme = "a repository in the htapod lab\n"
	// BigSize is the size of /big.bin, Pattern(BigSize).
	BigSize = 5_000_000
)

// TextFile is /text.txt: about 120 kB of text that gzip shrinks well, so
// that nginx sends it gzip-compressed (and, over HTTP/1.1, chunked) to a
// client that accepts gzip.
func TextFile() string {
	var b strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&b, "line %04d of the lab's compressible text\n", i)
	}
	return b.String()
}

// A Web is the lab's nginx site over TLS, as StartWeb started it.
type Web struct {
	// Dir holds nginx's configuration and logs (error.log, access.log).
	Dir string
	// Docroot is the site's document root.
	Docroot string
}

// webConf is the http block of StartWeb's nginx: %[1]s and %[2]s are the
// certificate and key, %[3]s the file of siteConf.
const webConf = `gzip on;
	gzip_min_length 1;
	gzip_types text/plain application/json;
	ssl_certificate %[1]s;
	ssl_certificate_key %[2]s;
	server {
		listen ` + WWW4 + `:443 ssl http2;
		listen [` + WWW6 + `]:443 ssl http2;
		listen ` + API4 + `:443 ssl http2;
		ssl_protocols TLSv1.2 TLSv1.3;
		include %[3]s;
	}
	server {
		listen ` + WWW4 + `:4412 ssl http2;
		ssl_protocols TLSv1.2;
		include %[3]s;
	}
	server {
		listen ` + WWW4 + `:4413 ssl http2;
		ssl_protocols TLSv1.3;
		include %[3]s;
	}
`

// siteConf is the part that the servers of webConf share; %[1]s is the
// document root.
const siteConf = `root %[1]s;
types {
	text/html html;
	text/plain txt;
	application/json json;
	application/octet-stream bin;
}
default_type application/octet-stream;
add_header X-Lab-Server nginx-lab always;
location = /old { return 301 /new; }
location = /new { default_type text/plain; }
`

// StartWeb runs nginx in the lab with the lab's site over HTTPS, signed by
// the lab's CA (PKI.Server), until the test ends:
//
//	https://www.lab.test/ (WWW4, WWW6 and API4, port 443)
//	    TLS 1.2 and 1.3, ALPN h2 and http/1.1
//	https://www.lab.test:4412/, :4413/  the same site, TLS 1.2 or 1.3 only
//
//	/            IndexHTML (text/html)
//	/old         301 to /new
//	/new         NewPage (text/plain)
//	/text.txt    TextFile(), gzip-compressed for clients that accept it
//	/data.json   JSONDoc (application/json)
//	/big.bin     Pattern(BigSize)
//	/repo.git    a bare git repository with RepoReadme, for `git clone`
//
// Every response has the header X-Lab-Server: nginx-lab. It needs nginx
// (the test is skipped without it) and git.
func (l *Lab) StartWeb() *Web {
	l.tb.Helper()
	pki := l.PKI()
	// nginx's workers run as nobody: the site must be world-readable.
	root := l.publicTempDir("htapod-lab-www-")
	docroot := filepath.Join(root, "www")
	files := map[string]string{
		"index.html": IndexHTML,
		"new":        NewPage,
		"text.txt":   TextFile(),
		"data.json":  JSONDoc,
		"big.bin":    string(Pattern(BigSize)),
	}
	if err := os.Mkdir(docroot, 0o755); err != nil {
		l.tb.Fatalf("lab: %v", err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(docroot, name), []byte(content), 0o644); err != nil {
			l.tb.Fatalf("lab: %v", err)
		}
	}
	if err := makeRepo(filepath.Join(root, "work"), filepath.Join(docroot, "repo.git")); err != nil {
		l.tb.Fatalf("lab: %v", err)
	}
	site := filepath.Join(root, "site.conf")
	if err := os.WriteFile(site, fmt.Appendf(nil, siteConf, docroot), 0o644); err != nil {
		l.tb.Fatalf("lab: %v", err)
	}
	dir := l.StartNginx(fmt.Sprintf(webConf, pki.ServerCertFile, pki.ServerKeyFile, site))
	return &Web{Dir: dir, Docroot: docroot}
}

// makeRepo makes a repository with one commit of RepoReadme in work and a
// bare clone of it at bare, prepared for the dumb HTTP protocol.
func makeRepo(work, bare string) error {
	if _, err := exec.LookPath("git"); err != nil {
		return fmt.Errorf("git is not installed; scripts/test-setup.sh installs it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	git := func(dir string, args ...string) error {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-c", "user.name=lab",
			"-c", "user.email=lab@lab.test", "-c", "init.defaultBranch=main"}, args...)...)
		cmd.Dir = dir
		// Neither root's nor the system's git configuration counts.
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := os.Mkdir(work, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(work, "README"), []byte(RepoReadme), 0o644); err != nil {
		return err
	}
	steps := [][]string{
		{work, "init", "-q"},
		{work, "add", "README"},
		{work, "commit", "-q", "-m", "lab repository"},
		{work, "clone", "-q", "--bare", "--no-local", work, bare},
		{bare, "update-server-info"},
	}
	for _, s := range steps {
		if err := git(s[0], s[1:]...); err != nil {
			return err
		}
	}
	return nil
}
