package tlsmitm

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteTrustEnv checks the rule for every CA variable: the client in
// the box trusts what it would have trusted without htapod, plus the CA.
// A variable the user set to a file gets a copy of that file + the CA; a
// variable the user did not set is set only when no client reads it
// before a variable the user set (the measured bug: CURL_CA_BUNDLE set by
// htapod hid the user's SSL_CERT_FILE from curl).
func TestWriteTrustEnv(t *testing.T) {
	tmp := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	own := write("own.pem", newTestCA(t, "user's own ca").certPEM())
	own2 := write("own2.pem", newTestCA(t, "user's second ca").certPEM())
	// A file without a final newline must not glue its last line to the CA.
	ownNoNL := write("own-nonl.pem", bytes.TrimRight(newTestCA(t, "no newline ca").certPEM(), "\n"))
	missing := filepath.Join(tmp, "missing.pem")
	certDir := filepath.Join(tmp, "certdir")
	os.Mkdir(certDir, 0o755)
	write("certdir/corp.pem", newTestCA(t, "corp dir ca").certPEM())
	awsHome := filepath.Join(tmp, "awshome")
	os.MkdirAll(filepath.Join(awsHome, ".aws"), 0o755)
	write("awshome/.aws/config", []byte("[default]\nregion = x\nca_bundle = "+own+"\n"))

	// want: "bundle", "ca", "-" (htapod leaves it alone), a path (a new
	// file: that file + the CA), or "dir+ca"/"list+ca" for SSL_CERT_DIR.
	defaults := map[string]string{
		"SSL_CERT_FILE": "bundle", "REQUESTS_CA_BUNDLE": "bundle", "AWS_CA_BUNDLE": "bundle",
		"NODE_EXTRA_CA_CERTS": "ca", "DENO_CERT": "ca", "NIX_SSL_CERT_FILE": "bundle",
		"CURL_CA_BUNDLE": "-", "GIT_SSL_CAINFO": "-", "PIP_CERT": "-", "NPM_CONFIG_CAFILE": "-",
		"CARGO_HTTP_CAINFO": "-", "BUNDLE_SSL_CA_CERT": "-", "SSL_CERT_DIR": "-",
	}
	tests := []struct {
		name string
		env  []string
		want map[string]string // on top of defaults
	}{
		{name: "nothing set"},
		{name: "SSL_CERT_FILE", env: []string{"SSL_CERT_FILE=" + own},
			want: map[string]string{"SSL_CERT_FILE": own, "CURL_CA_BUNDLE": "-"}},
		{name: "CURL_CA_BUNDLE", env: []string{"CURL_CA_BUNDLE=" + own},
			want: map[string]string{"CURL_CA_BUNDLE": own, "REQUESTS_CA_BUNDLE": "-"}},
		{name: "SSL_CERT_FILE and CURL_CA_BUNDLE", env: []string{"SSL_CERT_FILE=" + own, "CURL_CA_BUNDLE=" + own2},
			want: map[string]string{"SSL_CERT_FILE": own, "CURL_CA_BUNDLE": own2, "REQUESTS_CA_BUNDLE": "-"}},
		{name: "REQUESTS_CA_BUNDLE", env: []string{"REQUESTS_CA_BUNDLE=" + ownNoNL},
			want: map[string]string{"REQUESTS_CA_BUNDLE": ownNoNL}},
		{name: "NODE_EXTRA_CA_CERTS", env: []string{"NODE_EXTRA_CA_CERTS=" + own},
			want: map[string]string{"NODE_EXTRA_CA_CERTS": own}},
		{name: "GIT_SSL_CAINFO and PIP_CERT", env: []string{"GIT_SSL_CAINFO=" + own, "PIP_CERT=" + own2},
			want: map[string]string{"GIT_SSL_CAINFO": own, "PIP_CERT": own2}},
		{name: "NIX_SSL_CERT_FILE", env: []string{"NIX_SSL_CERT_FILE=" + own},
			want: map[string]string{"NIX_SSL_CERT_FILE": own, "SSL_CERT_FILE": "-"}},
		{name: "missing file is left alone", env: []string{"SSL_CERT_FILE=" + missing},
			want: map[string]string{"SSL_CERT_FILE": "-", "CURL_CA_BUNDLE": "-"}},
		{name: "SSL_CERT_DIR", env: []string{"SSL_CERT_DIR=" + certDir},
			want: map[string]string{"SSL_CERT_DIR": "dir+ca", "SSL_CERT_FILE": "-"}},
		{name: "SSL_CERT_DIR list", env: []string{"SSL_CERT_DIR=" + certDir + ":/nonexistent"},
			want: map[string]string{"SSL_CERT_DIR": "list+ca", "SSL_CERT_FILE": "-"}},
		{name: "system paths are left alone: the box's copies have the CA",
			env:  []string{"SSL_CERT_FILE=" + SystemBundles[0], "SSL_CERT_DIR=" + hashedDir},
			want: map[string]string{"SSL_CERT_FILE": "-", "SSL_CERT_DIR": "-", "CURL_CA_BUNDLE": "-"}},
		{name: "AWS config names a ca_bundle", env: []string{"HOME=" + awsHome},
			want: map[string]string{"AWS_CA_BUNDLE": "-"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, tr, dir := newTestTrust(t, tt.env)
			env := envMap(t, tr.Env)
			user := envMap(t, tt.env)
			want := map[string]string{}
			for k, v := range defaults {
				want[k] = v
			}
			for k, v := range tt.want {
				want[k] = v
			}
			for name, w := range want {
				got, set := env[name]
				switch w {
				case "-":
					if set {
						t.Errorf("Env %s = %q; want it left as it is (%q)", name, got, user[name])
					}
				case "bundle", "ca":
					file := map[string]string{"bundle": tr.Bundle, "ca": tr.CA}[w]
					if got != file {
						t.Errorf("Env %s = %q; want the %s file %s", name, got, w, file)
					}
				case "dir+ca":
					wantCertDir(t, got, dir, a, []string{"corp.pem"})
				case "list+ca":
					head, last, _ := strings.Cut(got, ":/nonexistent:")
					if head != certDir {
						t.Errorf("Env SSL_CERT_DIR = %q; want the user's list first", got)
					}
					wantCertDir(t, last, dir, a, nil)
				default:
					wantUserPlusCA(t, name, got, w, dir, a)
				}
			}
		})
	}
}

// wantUserPlusCA checks that got is a new file in dir holding the user's
// file + the CA, and that the user's file is unchanged.
func wantUserPlusCA(t *testing.T, name, got, userFile, dir string, a *Authority) {
	t.Helper()
	if got == userFile || filepath.Dir(got) != dir {
		t.Errorf("Env %s = %q; want a new file in %s", name, got, dir)
		return
	}
	b, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	user, _ := os.ReadFile(userFile)
	if want := joinPEM(user, a.CertPEM()); !bytes.Equal(b, want) {
		t.Errorf("Env %s file = %q; want %s + the CA", name, b, userFile)
	}
	if n := countCerts(b); n != 2 {
		t.Errorf("Env %s file has %d certificates; want 2 (the user's and the CA)", name, n)
	}
}

// wantCertDir checks that got is a directory in dir with links to the
// user's entries and the CA under its hash.
func wantCertDir(t *testing.T, got, dir string, a *Authority, entries []string) {
	t.Helper()
	if filepath.Dir(got) != dir {
		t.Errorf("SSL_CERT_DIR part %q; want a directory in %s", got, dir)
		return
	}
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(got, e)); err != nil {
			t.Errorf("SSL_CERT_DIR copy lacks the user's %s: %v", e, err)
		}
	}
	hash, _ := subjectHash(a.Certificate())
	b, err := os.ReadFile(filepath.Join(got, hash+".0"))
	if err != nil || !bytes.Equal(b, a.CertPEM()) {
		t.Errorf("SSL_CERT_DIR copy %s/%s.0 = %q, %v; want the CA", got, hash, b, err)
	}
}
