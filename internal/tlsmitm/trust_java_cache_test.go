package tlsmitm

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// TestJavaStoreCache checks the cached host part of the Java store: the
// first run writes it, later runs add their own CA to it, and a cache
// file cut short is refused (and written again).
func TestJavaStoreCache(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	roots := joinPEM(newTestCA(t, "root one").certPEM(), newTestCA(t, "root two").certPEM())
	check := func(name string, a *Authority) {
		t.Helper()
		data, err := javaStoreBytes(a.Certificate(), roots)
		if err != nil {
			t.Fatalf("%s: javaStoreBytes: %v", name, err)
		}
		certs, err := pkcs12.DecodeTrustStore(data, "")
		if err != nil {
			t.Fatalf("%s: DecodeTrustStore: %v", name, err)
		}
		if len(certs) != 3 || !slices.ContainsFunc(certs, a.Certificate().Equal) {
			t.Errorf("%s: store has %d certificates; want the 2 roots + this run's CA", name, len(certs))
		}
	}
	check("first run", newTestAuthority(t))
	files, _ := filepath.Glob(filepath.Join(cache, "htapod", "java-roots-*.p12"))
	if len(files) != 1 {
		t.Fatalf("cache files %q; want one", files)
	}
	if fi, _ := os.Stat(filepath.Dir(files[0])); fi.Mode().Perm() != 0o700 {
		t.Errorf("cache directory mode %o; want 0700", fi.Mode().Perm())
	}
	check("second run, another CA", newTestAuthority(t))

	b, _ := os.ReadFile(files[0])
	os.WriteFile(files[0], b[:len(b)/2], 0o600)
	check("cache cut short", newTestAuthority(t))
	if again, _ := os.ReadFile(files[0]); len(again) != len(b) {
		t.Errorf("a cache file cut short was not written again: %d bytes; want %d", len(again), len(b))
	}

	os.Chmod(filepath.Join(cache, "htapod"), 0o755)
	if d := cacheDir(); d != "" {
		t.Errorf("cacheDir() = %q for a directory others may read; want none", d)
	}
}
