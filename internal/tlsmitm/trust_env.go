package tlsmitm

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// A caVar is an environment variable that names CA certificates for some
// clients. The rule for each one: the box's client trusts what it would
// have trusted without htapod, plus the CA — never less.
type caVar struct {
	name string
	// unset is what the box gets when the user did not set the variable:
	// "" leaves it unset (the client's default store is one of the
	// bind-mounted system files, or setting it would hide a config file
	// of the user's), "bundle" the host roots + the CA, "ca" the CA alone
	// (for variables whose certificates are added to the client's own).
	unset string
	// shadows are the variables that some client reads only when this one
	// is unset. When the user set one of them, setting this one would hide
	// the user's choice, so it is left unset.
	shadows []string
}

// caVars are the variables htapod knows, with the clients that read them.
var caVars = []caVar{
	// OpenSSL (default file), Go, Python's ssl, Ruby, httpx first;
	// nixpkgs' OpenSSL reads it before NIX_SSL_CERT_FILE; httpx reads it
	// before SSL_CERT_DIR. Set when unset for runtimes that bring an
	// OpenSSL of their own (conda, pyenv builds), whose default file is
	// not a system path.
	{name: "SSL_CERT_FILE", unset: "bundle", shadows: []string{"SSL_CERT_DIR", "NIX_SSL_CERT_FILE"}},
	// curl's tool reads it before SSL_CERT_FILE and SSL_CERT_DIR, and
	// requests after REQUESTS_CA_BUNDLE. curl's default is the system
	// bundle, and SSL_CERT_FILE covers curl when this is unset.
	{name: "CURL_CA_BUNDLE"},
	// requests (and pip through it) reads it before CURL_CA_BUNDLE; its
	// default is certifi's bundle, which a pip-installed certifi keeps
	// apart from the system's.
	{name: "REQUESTS_CA_BUNDLE", unset: "bundle", shadows: []string{"CURL_CA_BUNDLE"}},
	// These would hide a file the user named in a config file (git's
	// http.sslCAInfo, pip.conf's cert, cargo's http.cainfo, .npmrc's
	// cafile, bundler's ssl_ca_cert); the clients' defaults are the system
	// store (or Node's roots + NODE_EXTRA_CA_CERTS). Kept only when set.
	{name: "GIT_SSL_CAINFO"},
	{name: "PIP_CERT"},
	{name: "CARGO_HTTP_CAINFO"},
	{name: "NPM_CONFIG_CAFILE"},
	{name: "YARN_CAFILE"},
	{name: "BUNDLE_SSL_CA_CERT"},
	// botocore's default is certifi's bundle. Left unset when the user's
	// AWS config names a ca_bundle (see awsConfigCABundle).
	{name: "AWS_CA_BUNDLE", unset: "bundle"},
	// Runtimes with roots of their own, which these replace.
	{name: "NIX_SSL_CERT_FILE", unset: "bundle"},
	{name: "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", unset: "bundle"},
	{name: "HEX_CACERTS_PATH", unset: "bundle"},
	// Added to the runtime's own roots.
	{name: "NODE_EXTRA_CA_CERTS", unset: "ca"},
	{name: "DENO_CERT", unset: "ca"},
	// Replace their clients' roots; kept only when set.
	{name: "HTTPLIB2_CA_CERTS"},
	{name: "CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE"},
}

// envFile is how trustEnv finds the files it names: the bundle, the CA
// alone, and the run directory for the user's files + the CA.
type envFile struct {
	bundle, ca, dir string
	caPEM           []byte
	hash            string // the CA's OpenSSL subject hash
	// hashedDir says the box's /etc/ssl/certs holds the CA.
	hashedDir bool
}

// trustEnv returns the CA variables for the box, given the command's
// environment env.
func trustEnv(f envFile, env []string) ([]string, []string, error) {
	user := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			user[k] = v
		}
	}
	var out, names []string
	for _, v := range caVars {
		val, err := v.value(f, user)
		if err != nil {
			return nil, nil, err
		}
		if val != "" {
			out = append(out, v.name+"="+val)
			names = append(names, v.name)
		}
	}
	if dir := user["SSL_CERT_DIR"]; dir != "" {
		val, err := certDirWithCA(f, dir)
		if err != nil {
			return nil, nil, err
		}
		if val != dir {
			out = append(out, "SSL_CERT_DIR="+val)
			names = append(names, "SSL_CERT_DIR")
		}
	}
	return out, names, nil
}

// value is what v is set to in the box, or "" to leave it as it is.
func (v caVar) value(f envFile, user map[string]string) (string, error) {
	if set := user[v.name]; set != "" {
		return userFileWithCA(f, v.name, set)
	}
	for _, s := range v.shadows {
		if user[s] != "" {
			return "", nil
		}
	}
	if v.name == "AWS_CA_BUNDLE" && awsConfigCABundle(user) {
		return "", nil
	}
	switch v.unset {
	case "bundle":
		return f.bundle, nil
	case "ca":
		return f.ca, nil
	}
	return "", nil
}

// userFileWithCA writes the user's file p + the CA into the run directory
// and returns its path, or "" for a value that is not a readable file
// (missing, a directory): that is left as it is, and the client does what
// it would do without htapod.
func userFileWithCA(f envFile, name, p string) (string, error) {
	if systemBundle(p) {
		return "", nil // the box's copy of that path is the bundle
	}
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return "", nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", nil
	}
	out := filepath.Join(f.dir, "env-"+strings.ToLower(name)+".pem")
	if err := os.WriteFile(out, joinPEM(b, f.caPEM), 0o644); err != nil {
		return "", fmt.Errorf("write %s for %s: %w", out, name, err)
	}
	return out, nil
}

// certDirWithCA gives a user's SSL_CERT_DIR the CA. One directory becomes
// a copy of it (links to its entries) with the CA under its hash, so that
// clients that take one directory (httpx) keep working; a list (OpenSSL's
// and Go's colon-separated form) gets a directory holding only the CA.
func certDirWithCA(f envFile, val string) (string, error) {
	if f.hashedDir && filepath.Clean(val) == hashedDir {
		return val, nil // the box's /etc/ssl/certs has the CA
	}
	if !strings.Contains(val, ":") {
		if fi, err := os.Stat(val); err == nil && fi.IsDir() {
			farm := filepath.Join(f.dir, "env-ssl_cert_dir")
			if err := linkDir(val, farm, f.caPEM, f.hash); err != nil {
				return "", err
			}
			return farm, nil
		}
		return val, nil
	}
	only := filepath.Join(f.dir, "env-ssl_cert_dir-ca")
	if err := linkDir("", only, f.caPEM, f.hash); err != nil {
		return "", err
	}
	return val + ":" + only, nil
}

// linkDir makes dst a directory of absolute links to the entries of src
// ("" for none) plus the CA as htapod-ca.pem under the first free
// <hash>.N.
func linkDir(src, dst string, caPEM []byte, hash string) error {
	if err := os.Mkdir(dst, 0o755); err != nil {
		return fmt.Errorf("create CA directory: %w", err)
	}
	taken := map[string]bool{}
	if src != "" {
		abs, err := filepath.Abs(src)
		if err != nil {
			return fmt.Errorf("copy CA directory %s: %w", src, err)
		}
		entries, err := os.ReadDir(abs)
		if err != nil {
			return fmt.Errorf("copy CA directory %s: %w", src, err)
		}
		for _, e := range entries {
			taken[e.Name()] = true
			if err := os.Symlink(filepath.Join(abs, e.Name()), filepath.Join(dst, e.Name())); err != nil {
				return fmt.Errorf("copy CA directory %s: %w", src, err)
			}
		}
	}
	return addHashed(dst, caPEM, hash, taken)
}

// addHashed writes the CA into dir as htapod-ca.pem and links it under the
// first <hash>.N that taken does not hold.
func addHashed(dir string, caPEM []byte, hash string, taken map[string]bool) error {
	const pemName = "htapod-ca.pem"
	if err := os.WriteFile(filepath.Join(dir, pemName), caPEM, 0o644); err != nil {
		return fmt.Errorf("write CA into %s: %w", dir, err)
	}
	for i := 0; i < 10; i++ {
		name := fmt.Sprintf("%s.%d", hash, i)
		if !taken[name] {
			return os.Symlink(pemName, filepath.Join(dir, name))
		}
	}
	return fmt.Errorf("add CA to %s: no free hash slot", dir)
}

// systemBundle says whether p is (a link to) a system bundle, which the
// box has replaced by the bundle with the CA.
func systemBundle(p string) bool {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return false
	}
	for _, b := range SystemBundles {
		if real == b || filepath.Clean(p) == b {
			return true
		}
	}
	return false
}

// awsConfigCABundle says whether the user's AWS config file names a
// ca_bundle, which AWS_CA_BUNDLE would hide.
func awsConfigCABundle(user map[string]string) bool {
	p := user["AWS_CONFIG_FILE"]
	if p == "" {
		if user["HOME"] == "" {
			return false
		}
		p = filepath.Join(user["HOME"], ".aws", "config")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return false
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		k, _, ok := bytes.Cut(line, []byte("="))
		if ok && string(bytes.TrimSpace(k)) == "ca_bundle" {
			return true
		}
	}
	return false
}
