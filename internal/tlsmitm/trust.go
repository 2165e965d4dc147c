package tlsmitm

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// SystemBundles are the CA bundle files of the common distributions. The
// box gets each one that exists replaced by host roots + the htapod CA.
var SystemBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt",                // Debian, Ubuntu, Gentoo, Arch
	"/etc/pki/tls/certs/ca-bundle.crt",                  // Fedora, RHEL
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // Fedora, RHEL
	"/etc/ssl/ca-bundle.pem",                            // openSUSE
	"/etc/ssl/cert.pem",                                 // Alpine, Arch
	"/etc/pki/tls/cacert.pem",                           // OpenELEC
}

// hashedDir is OpenSSL's default CApath on Debian-like systems.
const hashedDir = "/etc/ssl/certs"

// JavaStores are the distributions' shared Java trust stores; JDKs link
// their lib/security/cacerts to them.
var JavaStores = []string{
	"/etc/ssl/certs/java/cacerts",              // Debian, Ubuntu
	"/etc/pki/ca-trust/extracted/java/cacerts", // Fedora, RHEL
	"/etc/pki/java/cacerts",                    // older RHEL
	"/var/lib/ca-certificates/java-cacerts",    // openSUSE
}

// Mount is a file or directory to bind over a path in the box.
type Mount struct{ Src, Dst string }

// Trust is what makes the box trust an authority: files written in a run
// directory, the mounts that put them in place, and environment variables
// for runtimes that ignore the system store.
type Trust struct {
	// Bundle is host roots + the CA (PEM); CA is the CA alone.
	Bundle, CA string
	Mounts     []Mount
	Env        []string
}

// caEnv name a CA bundle file for runtimes and tools that read their own.
var caEnv = []string{
	"SSL_CERT_FILE", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "GIT_SSL_CAINFO",
	"AWS_CA_BUNDLE", "PIP_CERT", "CARGO_HTTP_CAINFO", "DENO_CERT", "NIX_SSL_CERT_FILE",
	"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", "HEX_CACERTS_PATH", "BUNDLE_SSL_CA_CERT",
	"NPM_CONFIG_CAFILE", "YARN_CAFILE",
}

// WriteTrust writes the trust files for a into dir (which must be private
// to the user: it is the run directory). env is the command's environment:
// a CA variable the user already set to a file gets that file + the CA.
func WriteTrust(a *Authority, dir string, env []string) (*Trust, error) {
	roots := hostRoots()
	t := &Trust{Bundle: filepath.Join(dir, "ca-bundle.pem"), CA: filepath.Join(dir, "htapod-ca.pem")}
	bundle := joinPEM(roots, a.CertPEM())
	javaStore := ""
	if hostHasJava() {
		javaStore = filepath.Join(dir, "java-cacerts")
	}
	farm := ""
	if fi, err := os.Stat(hashedDir); err == nil && fi.IsDir() {
		farm = filepath.Join(dir, "certs")
	}
	// The three parts are independent, and this is on the path of every
	// run's start: write them at once.
	var wg sync.WaitGroup
	var errs [3]error
	wg.Add(3)
	go func() {
		defer wg.Done()
		if err := os.WriteFile(t.Bundle, bundle, 0o644); err != nil {
			errs[0] = fmt.Errorf("write CA bundle: %w", err)
		} else if err := os.WriteFile(t.CA, a.CertPEM(), 0o644); err != nil {
			errs[0] = fmt.Errorf("write CA: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		if javaStore != "" {
			errs[1] = writeJavaStore(a, javaStore, roots)
		}
	}()
	go func() {
		defer wg.Done()
		if farm != "" {
			errs[2] = writeHashedDir(a, farm, bundle, javaStore)
		}
	}()
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	if farm != "" {
		t.Mounts = append(t.Mounts, Mount{Src: farm, Dst: hashedDir})
	}
	for _, p := range SystemBundles {
		if farm != "" && strings.HasPrefix(p, hashedDir+"/") {
			continue // the hashed directory carries its own bundle
		}
		t.Mounts = append(t.Mounts, Mount{Src: t.Bundle, Dst: p})
	}
	for _, p := range JavaStores {
		if farm != "" && strings.HasPrefix(p, hashedDir+"/") {
			continue
		}
		if javaStore != "" {
			t.Mounts = append(t.Mounts, Mount{Src: javaStore, Dst: p})
		}
	}
	var err error
	t.Env, err = trustEnv(t, dir, env, a.CertPEM(), farm)
	return t, err
}

// hostHasJava says whether the host has a Java trust store to replace.
func hostHasJava() bool {
	for _, p := range JavaStores {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

// hostRoots reads the first system bundle that exists.
func hostRoots() []byte {
	for _, p := range SystemBundles {
		if b, err := os.ReadFile(p); err == nil && len(b) > 0 {
			return b
		}
	}
	return nil
}

func joinPEM(parts ...[]byte) []byte {
	var b bytes.Buffer
	for _, p := range parts {
		if len(p) == 0 {
			continue
		}
		b.Write(p)
		if p[len(p)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// writeHashedDir makes a copy of /etc/ssl/certs as a directory of
// symbolic links to the same targets, with the bundle replaced, the CA
// added under its OpenSSL hash, and java/cacerts replaced.
func writeHashedDir(a *Authority, farm string, bundle []byte, javaStore string) error {
	if err := os.Mkdir(farm, 0o755); err != nil {
		return fmt.Errorf("create hashed CA directory: %w", err)
	}
	entries, err := os.ReadDir(hashedDir)
	if err != nil {
		return fmt.Errorf("read %s: %w", hashedDir, err)
	}
	taken := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		taken[name] = true
		dst := filepath.Join(farm, name)
		switch {
		case name == "ca-certificates.crt":
			err = os.WriteFile(dst, bundle, 0o644)
		case name == "java" && e.IsDir() && javaStore != "":
			err = os.Mkdir(dst, 0o755)
			if err == nil {
				err = os.Symlink(javaStore, filepath.Join(dst, "cacerts"))
			}
		case e.Type()&fs.ModeSymlink != 0:
			var target string
			if target, err = os.Readlink(filepath.Join(hashedDir, name)); err == nil {
				err = os.Symlink(target, dst)
			}
		default:
			// A file or directory of its own: link to it under its real
			// path, which the farm does not shadow... except that the farm
			// is mounted at that very path. Keep a copy of small files.
			if e.Type().IsRegular() {
				var b []byte
				if b, err = os.ReadFile(filepath.Join(hashedDir, name)); err == nil {
					err = os.WriteFile(dst, b, 0o644)
				}
			}
		}
		if err != nil {
			return fmt.Errorf("populate hashed CA directory: %w", err)
		}
	}
	hash, err := subjectHash(a.Certificate())
	if err != nil {
		return err
	}
	pemName := "htapod-ca.pem"
	if err := os.WriteFile(filepath.Join(farm, pemName), a.CertPEM(), 0o644); err != nil {
		return err
	}
	for i := 0; i < 10; i++ {
		name := fmt.Sprintf("%s.%d", hash, i)
		if !taken[name] {
			return os.Symlink(pemName, filepath.Join(farm, name))
		}
	}
	return errors.New("populate hashed CA directory: no free hash slot")
}

// writeJavaStore writes a PKCS#12 trust store with the host roots and the
// CA to path. It is written
// without encryption or MAC: Java opens the default trust store with no
// password (javax.net.ssl.trustStorePassword unset) and then skips
// encrypted certificate bags, trusting nothing. Certificates are public.
func writeJavaStore(a *Authority, path string, roots []byte) error {
	certs := []*x509.Certificate{a.Certificate()}
	for rest := roots; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if c, err := x509.ParseCertificate(blk.Bytes); err == nil {
			certs = append(certs, c)
		}
	}
	data, err := pkcs12.Passwordless.EncodeTrustStore(certs, "")
	if err != nil {
		return fmt.Errorf("encode Java trust store: %w", err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write Java trust store: %w", err)
	}
	return nil
}

// trustEnv sets the CA variables. A variable the user set to a readable
// file is kept in spirit: it gets a copy of that file plus the CA.
func trustEnv(t *Trust, dir string, env []string, caPEM []byte, farm string) ([]string, error) {
	user := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			user[k] = v
		}
	}
	var out []string
	for _, name := range caEnv {
		file := t.Bundle
		if v := user[name]; v != "" {
			if b, err := os.ReadFile(v); err == nil {
				file = filepath.Join(dir, "env-"+strings.ToLower(name)+".pem")
				if err := os.WriteFile(file, joinPEM(b, caPEM), 0o644); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, name+"="+file)
	}
	// Node adds these to its own bundled roots.
	extra := t.CA
	if v := user["NODE_EXTRA_CA_CERTS"]; v != "" {
		if b, err := os.ReadFile(v); err == nil {
			extra = filepath.Join(dir, "env-node_extra_ca_certs.pem")
			if err := os.WriteFile(extra, joinPEM(b, caPEM), 0o644); err != nil {
				return nil, err
			}
		}
	}
	out = append(out, "NODE_EXTRA_CA_CERTS="+extra)
	if farm != "" && user["SSL_CERT_DIR"] == "" {
		out = append(out, "SSL_CERT_DIR="+hashedDir)
	}
	return out, nil
}
