package tlsmitm

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// hostBundle is the first system bundle of this machine, as WriteTrust
// reads it, or nil.
func hostBundle() []byte {
	for _, p := range SystemBundles {
		if b, err := os.ReadFile(p); err == nil && len(b) > 0 {
			return b
		}
	}
	return nil
}

// hostJavaStore says whether this machine has a Java trust store.
func hostJavaStore() bool {
	for _, p := range JavaStores {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

// envMap turns KEY=VALUE lines into a map; a repeated key fails the test.
func envMap(t *testing.T, env []string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Errorf("Env entry %q is not KEY=VALUE", kv)
			continue
		}
		if _, dup := m[k]; dup {
			t.Errorf("Env sets %s twice", k)
		}
		m[k] = v
	}
	return m
}

// mountFor returns the source mounted at dst, or "".
func mountFor(tr *Trust, dst string) string {
	for _, m := range tr.Mounts {
		if m.Dst == dst {
			return m.Src
		}
	}
	return ""
}

// newTestTrust writes the trust files of a fresh authority into a
// temporary run directory.
func newTestTrust(t *testing.T, env []string) (*Authority, *Trust, string) {
	t.Helper()
	a := newTestAuthority(t)
	dir := t.TempDir()
	tr, err := WriteTrust(a, dir, env)
	if err != nil {
		t.Fatalf("WriteTrust(%s) error = %v", dir, err)
	}
	return a, tr, dir
}

func TestWriteTrustFiles(t *testing.T) {
	a, tr, dir := newTestTrust(t, nil)

	if filepath.Dir(tr.Bundle) != dir || filepath.Dir(tr.CA) != dir {
		t.Errorf("WriteTrust files %s, %s; want them in the run directory %s", tr.Bundle, tr.CA, dir)
	}
	ca, err := os.ReadFile(tr.CA)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ca, a.CertPEM()) {
		t.Errorf("CA file %s = %q; want the CA PEM", tr.CA, ca)
	}

	bundle, err := os.ReadFile(tr.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	roots := hostBundle()
	if roots != nil {
		if !bytes.HasPrefix(bundle, roots) {
			t.Errorf("bundle %s does not start with the host roots", tr.Bundle)
		}
		rest := bundle[len(roots):]
		if roots[len(roots)-1] != '\n' {
			rest = bytes.TrimPrefix(rest, []byte("\n"))
		}
		if !bytes.Equal(rest, a.CertPEM()) {
			t.Errorf("bundle after the host roots = %q; want exactly the CA PEM", rest)
		}
	} else if !bytes.Equal(bundle, a.CertPEM()) {
		t.Errorf("bundle without host roots = %q; want the CA PEM", bundle)
	}
	// Every certificate of the bundle parses, and the CA is among them.
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(bundle) {
		t.Errorf("bundle %s holds no certificate", tr.Bundle)
	}
	if _, err := mustLeaf(t, a, "bundle.test").Verify(x509.VerifyOptions{DNSName: "bundle.test", Roots: pool}); err != nil {
		t.Errorf("leaf does not verify against the bundle: %v", err)
	}

	// Every system bundle path is covered: by a mount of the bundle, or
	// (under /etc/ssl/certs) by the hashed directory.
	farm := mountFor(tr, hashedDir)
	for _, p := range SystemBundles {
		if farm != "" && strings.HasPrefix(p, hashedDir+"/") {
			if got, _ := os.ReadFile(filepath.Join(farm, strings.TrimPrefix(p, hashedDir+"/"))); !bytes.Equal(got, bundle) && fileExists(p) {
				t.Errorf("hashed directory's %s is not the bundle", filepath.Base(p))
			}
			continue
		}
		if got := mountFor(tr, p); got != tr.Bundle {
			t.Errorf("mount at %s = %q; want the bundle %s", p, got, tr.Bundle)
		}
	}
	for _, m := range tr.Mounts {
		if _, err := os.Stat(m.Src); err != nil {
			t.Errorf("mount source %s of %s: %v", m.Src, m.Dst, err)
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func mustLeaf(t *testing.T, a *Authority, name string) *x509.Certificate {
	t.Helper()
	c, err := a.Leaf([]string{name}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.Leaf
}

// TestWriteTrustHashedDir checks both ways of giving /etc/ssl/certs the
// CA: a layer laid over it (Linux 5.11 and later) and a copy of it.
func TestWriteTrustHashedDir(t *testing.T) {
	if fi, err := os.Stat(hashedDir); err != nil || !fi.IsDir() {
		t.Skipf("no %s on this machine", hashedDir)
	}
	for _, overlay := range []bool{true, false} {
		t.Run(fmt.Sprintf("overlay=%v", overlay), func(t *testing.T) {
			old := useOverlay
			useOverlay = overlay
			t.Cleanup(func() { useOverlay = old })
			testHashedDir(t, overlay)
		})
	}
}

func testHashedDir(t *testing.T, overlay bool) {
	a, tr, _ := newTestTrust(t, nil)
	farm := mountFor(tr, hashedDir)
	if farm == "" {
		t.Fatalf("WriteTrust Mounts = %v; want one at %s", tr.Mounts, hashedDir)
	}
	for _, m := range tr.Mounts {
		if m.Dst == hashedDir && m.Overlay != overlay {
			t.Errorf("mount at %s has Overlay %v; want %v", hashedDir, m.Overlay, overlay)
		}
	}
	bundle, _ := os.ReadFile(tr.Bundle)
	if got, _ := os.ReadFile(filepath.Join(farm, "ca-certificates.crt")); !bytes.Equal(got, bundle) {
		t.Errorf("%s/ca-certificates.crt is not the bundle", farm)
	}

	hash, err := subjectHash(a.Certificate())
	if err != nil {
		t.Fatal(err)
	}
	if openssl, err := exec.LookPath("openssl"); err == nil {
		out, err := exec.Command(openssl, "x509", "-hash", "-noout", "-in", tr.CA).Output()
		if err != nil {
			t.Fatalf("openssl x509 -hash: %v", err)
		}
		if want := strings.TrimSpace(string(out)); hash != want {
			t.Fatalf("subjectHash = %s; want %s (openssl x509 -hash)", hash, want)
		}
	}
	// The CA is under the first <hash>.N the host does not use.
	found := ""
	for i := range 10 {
		name := fmt.Sprintf("%s.%d", hash, i)
		if _, err := os.Lstat(filepath.Join(hashedDir, name)); err == nil {
			continue
		}
		found = name
		break
	}
	got, err := os.ReadFile(filepath.Join(farm, found))
	if err != nil {
		t.Fatalf("hashed directory has no %s: %v", found, err)
	}
	if !bytes.Equal(got, a.CertPEM()) {
		t.Errorf("%s in the hashed directory = %q; want the CA PEM", found, got)
	}

	// The host's links are mirrored with the same targets (a layer has
	// none: the host's show through).
	entries, err := os.ReadDir(hashedDir)
	if overlay {
		entries = nil
	}
	if err != nil {
		t.Fatal(err)
	}
	links := 0
	for _, e := range entries {
		if e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		links++
		want, _ := os.Readlink(filepath.Join(hashedDir, e.Name()))
		got, err := os.Readlink(filepath.Join(farm, e.Name()))
		if err != nil || got != want {
			t.Errorf("hashed directory's %s -> %q, %v; want a link to %q like the host's", e.Name(), got, err, want)
		}
	}
	t.Logf("%d host links mirrored", links)

	// OpenSSL finds the CA in the directory by its hash (CApath).
	if openssl, err := exec.LookPath("openssl"); err == nil {
		leafFile := filepath.Join(t.TempDir(), "leaf.pem")
		leaf := mustLeaf(t, a, "capath.test")
		os.WriteFile(leafFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}), 0o644)
		out, err := exec.Command(openssl, "verify", "-no-CAfile", "-CApath", farm, leafFile).CombinedOutput()
		if err != nil {
			t.Errorf("openssl verify -CApath %s: %v\n%s", farm, err, out)
		}
	}
}

func TestWriteTrustJavaStore(t *testing.T) {
	if !hostJavaStore() {
		t.Skip("no Java trust store on this machine")
	}
	a, tr, _ := newTestTrust(t, nil)
	farm := mountFor(tr, hashedDir)
	var stores []string
	for _, p := range JavaStores {
		if farm != "" && strings.HasPrefix(p, hashedDir+"/") {
			stores = append(stores, filepath.Join(farm, strings.TrimPrefix(p, hashedDir+"/")))
			continue
		}
		src := mountFor(tr, p)
		if src == "" {
			t.Errorf("no mount at Java store %s", p)
			continue
		}
		stores = append(stores, src)
	}
	nRoots := 0
	for rest := hostBundle(); ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err == nil {
			nRoots++
		}
	}
	for _, s := range stores {
		data, err := os.ReadFile(s)
		if err != nil {
			// The hashed directory has java/cacerts only if the host has.
			if strings.HasPrefix(s, farm) && !fileExists(filepath.Join(hashedDir, "java")) {
				continue
			}
			t.Errorf("Java store %s: %v", s, err)
			continue
		}
		certs, err := pkcs12.DecodeTrustStore(data, "")
		if err != nil {
			t.Errorf("DecodeTrustStore(%s, \"\") error = %v", s, err)
			continue
		}
		if !slices.ContainsFunc(certs, func(c *x509.Certificate) bool { return c.Equal(a.Certificate()) }) {
			t.Errorf("Java store %s lacks the CA", s)
		}
		if len(certs) != nRoots+1 {
			t.Errorf("Java store %s has %d certificates; want %d host roots + the CA", s, len(certs), nRoots)
		}
	}
}

func countCerts(b []byte) int {
	n := 0
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			return n
		}
		n++
	}
}

// BenchmarkWriteTrust measures the trust files of one run, on the path of
// every run's start, in memory as runs write them (/dev/shm), with the
// hashed directory as a layer and as a copy.
func BenchmarkWriteTrust(b *testing.B) {
	a, err := NewAuthority()
	if err != nil {
		b.Fatal(err)
	}
	env := []string{"HOME=" + b.TempDir()}
	for _, overlay := range []bool{true, false} {
		b.Run(fmt.Sprintf("overlay=%v", overlay), func(b *testing.B) {
			old := useOverlay
			useOverlay = overlay
			defer func() { useOverlay = old }()
			base, err := os.MkdirTemp("/dev/shm", "htapod-bench-")
			if err != nil {
				b.Skip(err)
			}
			defer os.RemoveAll(base)
			for i := 0; i < b.N; i++ {
				dir := filepath.Join(base, fmt.Sprint(i))
				os.Mkdir(dir, 0o700)
				if _, err := WriteTrust(a, dir, env); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				os.RemoveAll(dir)
				b.StartTimer()
			}
		})
	}
}
