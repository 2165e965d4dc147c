package tlsmitm

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// testCA is a certificate authority of the tests, independent of the code
// under test: it signs the certificates of the upstream servers.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

// newTestCA returns a fresh CA named name.
func newTestCA(tb testing.TB, name string) *testCA {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// certPEM is the CA certificate in PEM form.
func (ca *testCA) certPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
}

// issue signs a server certificate for names and ips, valid from
// notBefore to notAfter.
func (ca *testCA) issue(tb testing.TB, cn string, names []string, ips []net.IP, notBefore, notAfter time.Time) tls.Certificate {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     names,
		IPAddresses:  ips,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		tb.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// issueValid is issue with a validity that covers now.
func (ca *testCA) issueValid(tb testing.TB, names []string, ips []net.IP) tls.Certificate {
	tb.Helper()
	cn := ""
	if len(names) > 0 {
		cn = names[0]
	}
	return ca.issue(tb, cn, names, ips, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
}

// newTestAuthority returns a per-run Authority.
func newTestAuthority(tb testing.TB) *Authority {
	tb.Helper()
	a, err := NewAuthority()
	if err != nil {
		tb.Fatalf("NewAuthority() error = %v", err)
	}
	return a
}

// poolOf is a pool holding the authority's CA.
func poolOf(a *Authority) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.Certificate())
	return p
}

// syncBuffer is a bytes.Buffer safe for concurrent use (key log writers
// are written by the handshakes' goroutines).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// keyLogLine is one NSS key log line: LABEL CLIENT_RANDOM SECRET.
type keyLogLine struct {
	label, random, secret string
}

// parseKeyLog splits NSS key log text into lines; a malformed line fails
// the test.
func parseKeyLog(tb testing.TB, s string) []keyLogLine {
	tb.Helper()
	var out []keyLogLine
	for _, l := range strings.Split(s, "\n") {
		if l == "" {
			continue
		}
		f := strings.Fields(l)
		if len(f) != 3 || len(f[1]) != 64 {
			tb.Fatalf("key log line %q is not LABEL <64 hex> <secret>", l)
		}
		out = append(out, keyLogLine{label: f[0], random: f[1], secret: f[2]})
	}
	return out
}
