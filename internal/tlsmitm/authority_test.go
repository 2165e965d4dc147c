package tlsmitm

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNewAuthority(t *testing.T) {
	before := time.Now()
	a := newTestAuthority(t)
	after := time.Now()
	c := a.Certificate()

	if !c.IsCA || !c.BasicConstraintsValid {
		t.Errorf("NewAuthority().IsCA, BasicConstraintsValid = %v, %v; want true, true", c.IsCA, c.BasicConstraintsValid)
	}
	if c.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("NewAuthority().KeyUsage = %b; want CertSign set", c.KeyUsage)
	}
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("NewAuthority() public key is %T; want *ecdsa.PublicKey", c.PublicKey)
	}
	if pub.Curve != elliptic.P256() {
		t.Errorf("NewAuthority() curve = %s; want P-256", pub.Curve.Params().Name)
	}
	if c.NotBefore.After(before) {
		t.Errorf("NewAuthority().NotBefore = %v; want not after creation (%v)", c.NotBefore, before)
	}
	// Certificates carry seconds: allow the truncation.
	lo, hi := before.Add(perRunValidity-time.Second), after.Add(perRunValidity)
	if c.NotAfter.Before(lo) || c.NotAfter.After(hi) {
		t.Errorf("NewAuthority().NotAfter = %v; want within [%v, %v] (7 days)", c.NotAfter, lo, hi)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("NewAuthority() is not self-signed: %v", err)
	}
	if got, want := a.Name(), c.Subject.CommonName; got != want || !strings.HasPrefix(got, "htapod") {
		t.Errorf("Name() = %q; want %q starting with htapod", got, want)
	}
	blk, rest := pem.Decode(a.CertPEM())
	if blk == nil || blk.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("CertPEM() = %q; want one CERTIFICATE block", a.CertPEM())
	}
	if !bytes.Equal(blk.Bytes, c.Raw) {
		t.Errorf("CertPEM() does not hold Certificate().Raw")
	}

	b := newTestAuthority(t)
	if b.Certificate().Subject.CommonName == c.Subject.CommonName || b.Certificate().SerialNumber.Cmp(c.SerialNumber) == 0 {
		t.Errorf("two NewAuthority() share name %q or serial %v; want distinct CAs", c.Subject.CommonName, c.SerialNumber)
	}
}

func TestCreateAuthorityFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keep", "ca")
	certFile, keyFile, err := CreateAuthorityFiles(dir)
	if err != nil {
		t.Fatalf("CreateAuthorityFiles(%s) error = %v", dir, err)
	}
	for _, c := range []struct {
		path string
		want fs.FileMode
		dir  bool
	}{
		{dir, 0o700, true},
		{certFile, 0o444, false},
		{keyFile, 0o400, false},
	} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.IsDir() != c.dir || fi.Mode().Perm() != c.want {
			t.Errorf("CreateAuthorityFiles: %s mode = %v; want %v (dir %v)", c.path, fi.Mode(), c.want, c.dir)
		}
	}
	if filepath.Dir(certFile) != dir || filepath.Dir(keyFile) != dir || certFile == keyFile {
		t.Errorf("CreateAuthorityFiles(%s) = %s, %s; want two files in %s", dir, certFile, keyFile, dir)
	}

	certPEM, _ := os.ReadFile(certFile)
	keyPEM, _ := os.ReadFile(keyFile)
	if blk, _ := pem.Decode(keyPEM); blk == nil || blk.Type != "PRIVATE KEY" {
		t.Errorf("key file %s holds no PKCS#8 PRIVATE KEY block", keyFile)
	}

	a, err := LoadAuthority(certFile, keyFile)
	if err != nil {
		t.Fatalf("LoadAuthority(%s, %s) error = %v", certFile, keyFile, err)
	}
	if !bytes.Equal(a.CertPEM(), certPEM) {
		t.Errorf("LoadAuthority().CertPEM() differs from %s", certFile)
	}
	c := a.Certificate()
	if !c.IsCA {
		t.Errorf("LoadAuthority().Certificate().IsCA = false; want true")
	}
	if v := c.NotAfter.Sub(c.NotBefore); v < 365*24*time.Hour {
		t.Errorf("user CA validity = %v; want long-lived (years)", v)
	}
	// The loaded key signs leaves that chain to the file's certificate.
	leaf, err := a.Leaf([]string{"kept.test"}, nil)
	if err != nil {
		t.Fatalf("Leaf with loaded CA: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	if _, err := leaf.Leaf.Verify(x509.VerifyOptions{DNSName: "kept.test", Roots: roots}); err != nil {
		t.Errorf("leaf of loaded CA does not verify against %s: %v", certFile, err)
	}

	t.Run("refuses to overwrite", func(t *testing.T) {
		if _, _, err := CreateAuthorityFiles(dir); err == nil {
			t.Errorf("CreateAuthorityFiles(%s) again: error = nil; want an error", dir)
		} else if !errors.Is(err, fs.ErrExist) {
			t.Errorf("CreateAuthorityFiles(%s) again: error = %v; want fs.ErrExist", dir, err)
		}
		for path, want := range map[string][]byte{certFile: certPEM, keyFile: keyPEM} {
			if got, _ := os.ReadFile(path); !bytes.Equal(got, want) {
				t.Errorf("CreateAuthorityFiles again changed %s", path)
			}
		}
	})

	t.Run("cert exists, key does not", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "ca.pem"), []byte("mine"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := CreateAuthorityFiles(dir); err == nil {
			t.Fatalf("CreateAuthorityFiles over an existing ca.pem: error = nil; want an error")
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "ca.pem")); string(got) != "mine" {
			t.Errorf("CreateAuthorityFiles overwrote ca.pem with %q", got)
		}
		if _, err := os.Stat(filepath.Join(dir, "ca-key.pem")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("CreateAuthorityFiles left ca-key.pem behind (stat error %v); want it removed", err)
		}
	})
}

// writeCertKey writes a certificate for tmpl signed by itself with key,
// and the key in the given PEM form, and returns their paths.
func writeCertKey(t *testing.T, tmpl *x509.Certificate, key any, keyForm string) (certFile, keyFile string) {
	t.Helper()
	var pub any
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		pub = k.Public()
	case *rsa.PrivateKey:
		pub = k.Public()
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	var kb *pem.Block
	switch keyForm {
	case "PKCS8":
		b, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		kb = &pem.Block{Type: "PRIVATE KEY", Bytes: b}
	case "EC":
		b, err := x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
		if err != nil {
			t.Fatal(err)
		}
		kb = &pem.Block{Type: "EC PRIVATE KEY", Bytes: b}
	case "PKCS1":
		kb = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key.(*rsa.PrivateKey))}
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(kb), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestLoadAuthority(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := func(ca bool) *x509.Certificate {
		return &x509.Certificate{
			SerialNumber:          big.NewInt(7),
			Subject:               pkix.Name{CommonName: "Own CA"},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(48 * time.Hour),
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
			BasicConstraintsValid: true,
			IsCA:                  ca,
		}
	}
	tests := []struct {
		name    string
		ca      bool
		key     any
		form    string
		wantErr string // "" means success
	}{
		{name: "EC PKCS#8", ca: true, key: ecKey, form: "PKCS8"},
		{name: "EC SEC1", ca: true, key: ecKey, form: "EC"},
		{name: "RSA PKCS#1", ca: true, key: rsaKey, form: "PKCS1"},
		{name: "RSA PKCS#8", ca: true, key: rsaKey, form: "PKCS8"},
		{name: "not a CA", ca: false, key: ecKey, form: "PKCS8", wantErr: "not a CA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certFile, keyFile := writeCertKey(t, tmpl(tt.ca), tt.key, tt.form)
			a, err := LoadAuthority(certFile, keyFile)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), certFile) {
					t.Fatalf("LoadAuthority(%s) error = %v; want one naming the file and saying %q", tt.name, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadAuthority(%s) error = %v; want nil", tt.name, err)
			}
			if a.Name() != "Own CA" {
				t.Errorf("LoadAuthority(%s).Name() = %q; want %q", tt.name, a.Name(), "Own CA")
			}
			leaf, err := a.Leaf([]string{"own.test"}, []netip.Addr{netip.MustParseAddr("127.0.0.1")})
			if err != nil {
				t.Fatalf("Leaf: %v", err)
			}
			if _, err := leaf.Leaf.Verify(x509.VerifyOptions{DNSName: "own.test", Roots: poolOf(a)}); err != nil {
				t.Errorf("leaf of %s CA does not verify: %v", tt.name, err)
			}
		})
	}

	t.Run("missing and mismatched files", func(t *testing.T) {
		certFile, _ := writeCertKey(t, tmpl(true), ecKey, "PKCS8")
		_, otherKey := writeCertKey(t, tmpl(true), rsaKey, "PKCS1")
		missing := filepath.Join(t.TempDir(), "nope.pem")
		for _, c := range [][2]string{{missing, otherKey}, {certFile, missing}, {certFile, otherKey}} {
			if _, err := LoadAuthority(c[0], c[1]); err == nil {
				t.Errorf("LoadAuthority(%s, %s) error = nil; want an error", c[0], c[1])
			}
		}
	})
}
