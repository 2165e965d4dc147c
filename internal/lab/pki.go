package lab

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// ServerNames and ServerIPs are what the lab's good server certificate
// (PKI.Server) is valid for: every name and address of the lab's web
// servers, so that a client may use any of them, also without SNI.
var (
	ServerNames = []string{"www.lab.test", "api.lab.test"}
	ServerIPs   = []string{WWW4, WWW6, API4}
)

// WrongName is the only name in PKI.WrongName: a certificate that is valid
// in every other way, served where clients ask for www.lab.test.
const WrongName = "other.lab.test"

// A PKI is the lab's certificate authority and the server certificates it
// issued, made afresh in memory for each lab (ECDSA P-256, valid for a
// day) and written to Dir for servers and clients that read files. Nothing
// about it is secret beyond the lab: the keys live as long as the test.
type PKI struct {
	// Dir is a world-readable directory that holds CAFile and the
	// certificate files. Key files in it are readable by root only.
	Dir string
	// CA is the lab's CA certificate; CAFile holds it in PEM, readable by
	// the unprivileged user (for --upstream-ca and curl --cacert).
	CA     *x509.Certificate
	CAFile string
	// Pool holds CA alone: what a client that trusts the lab uses.
	Pool *x509.CertPool

	// Server is valid for ServerNames and ServerIPs, signed by CA;
	// ServerCertFile and ServerKeyFile hold it in PEM (for nginx).
	Server                        tls.Certificate
	ServerCertFile, ServerKeyFile string
	// Expired is Server's twin whose validity ended a day ago.
	Expired tls.Certificate
	// WrongName is valid only for WrongName.
	WrongName tls.Certificate
	// Untrusted is valid for ServerNames and ServerIPs but signed by
	// another CA, one that nobody trusts.
	Untrusted tls.Certificate
}

// PKI returns the lab's certificate authority and certificates, made on
// the first call and removed when the test ends.
func (l *Lab) PKI() *PKI {
	l.tb.Helper()
	l.pkiOnce.Do(func() {
		dir, err := os.MkdirTemp("", "htapod-lab-pki-")
		if err != nil {
			l.tb.Fatalf("lab: %v", err)
		}
		l.tb.Cleanup(func() { os.RemoveAll(dir) })
		p, err := newPKI(dir)
		if err != nil {
			l.tb.Fatalf("lab: make the lab's PKI: %v", err)
		}
		l.pki = p
	})
	if l.pki == nil {
		l.tb.Fatalf("lab: no PKI (an earlier call failed)")
	}
	return l.pki
}

// newPKI makes the CA and certificates and writes the files into dir.
func newPKI(dir string) (*PKI, error) {
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	now := time.Now()
	ca, caKey, err := newCA("htapod lab CA", now)
	if err != nil {
		return nil, err
	}
	other, otherKey, err := newCA("untrusted lab CA", now)
	if err != nil {
		return nil, err
	}
	p := &PKI{Dir: dir, CA: ca, Pool: x509.NewCertPool()}
	p.Pool.AddCert(ca)

	day := 24 * time.Hour
	if p.Server, err = newLeaf(ca, caKey, ServerNames, ServerIPs, now.Add(-time.Hour), now.Add(day)); err != nil {
		return nil, err
	}
	if p.Expired, err = newLeaf(ca, caKey, ServerNames, ServerIPs, now.Add(-2*day), now.Add(-day)); err != nil {
		return nil, err
	}
	if p.WrongName, err = newLeaf(ca, caKey, []string{WrongName}, nil, now.Add(-time.Hour), now.Add(day)); err != nil {
		return nil, err
	}
	if p.Untrusted, err = newLeaf(other, otherKey, ServerNames, ServerIPs, now.Add(-time.Hour), now.Add(day)); err != nil {
		return nil, err
	}

	p.CAFile = filepath.Join(dir, "lab-ca.pem")
	p.ServerCertFile = filepath.Join(dir, "server.pem")
	p.ServerKeyFile = filepath.Join(dir, "server.key")
	keyDER, err := x509.MarshalPKCS8PrivateKey(p.Server.PrivateKey)
	if err != nil {
		return nil, err
	}
	files := []struct {
		path  string
		block *pem.Block
		perm  os.FileMode
	}{
		{p.CAFile, &pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}, 0o644},
		{p.ServerCertFile, &pem.Block{Type: "CERTIFICATE", Bytes: p.Server.Certificate[0]}, 0o644},
		{p.ServerKeyFile, &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}, 0o600},
	}
	for _, f := range files {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(f.block), f.perm); err != nil {
			return nil, err
		}
		if err := os.Chmod(f.path, f.perm); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// newCA makes a self-signed CA certificate named cn, valid from an hour
// before now for a day.
func newCA(cn string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"htapod lab"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("create CA %q: %w", cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// newLeaf makes a server certificate for names and ips, signed by ca.
func newLeaf(ca *x509.Certificate, caKey *ecdsa.PrivateKey, names, ips []string, from, until time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate leaf key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: names[0], Organization: []string{"htapod lab"}},
		DNSNames:     names,
		NotBefore:    from,
		NotAfter:     until,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, s := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(s))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create certificate for %s: %w", names[0], err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// serial returns a random 128-bit certificate serial number.
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n
}
