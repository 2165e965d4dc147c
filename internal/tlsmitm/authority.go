// Package tlsmitm terminates the TLS connections of the command: it holds
// a certificate authority (per run, or the user's own), mints leaf
// certificates for the names of the real server, connects upstream with
// the client's SNI and ALPN, verifies the real server, and answers the
// client with the protocol the server chose — so both legs carry the same
// plaintext protocol, which the relay copies unchanged.
//
// It also writes what makes programs in the box trust the authority: a
// bundle of the host's roots plus the CA, a hashed directory for OpenSSL's
// CApath users, and a Java trust store (trust.go).
package tlsmitm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Authority is a certificate authority that mints leaf certificates. Its
// methods are safe for concurrent use.
type Authority struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
	// leafKey is shared by every leaf this authority mints: a key per leaf
	// would cost a key generation per host for no gain in a tap.
	leafKey *ecdsa.PrivateKey

	mu     sync.Mutex
	leaves map[string]*tls.Certificate
}

// perRunValidity is how long a per-run CA is valid: long enough for any
// run, short enough that a leaked one soon means nothing.
const perRunValidity = 7 * 24 * time.Hour

// NewAuthority creates a fresh CA in memory (ECDSA P-256). Its key never
// touches disk.
func NewAuthority() (*Authority, error) {
	return newAuthority("htapod per-run ca", perRunValidity)
}

func newAuthority(name string, validity time.Duration) (*Authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	id := make([]byte, 4)
	rand.Read(id)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		// Lower-case UTF8 values keep OpenSSL's canonical subject simple
		// (see subjectHash).
		Subject:               pkix.Name{CommonName: name + " " + hex.EncodeToString(id), Organization: []string{"htapod"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	return fromParts(der, key)
}

func fromParts(der []byte, key crypto.Signer) (*Authority, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	if !cert.IsCA {
		return nil, errors.New("the certificate is not a CA (basicConstraints CA:FALSE)")
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate leaf key: %w", err)
	}
	return &Authority{
		cert:    cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		key:     key,
		leafKey: leafKey,
		leaves:  map[string]*tls.Certificate{},
	}, nil
}

// LoadAuthority reads a CA the user keeps (PEM certificate and PEM key,
// PKCS#8, EC or PKCS#1), e.g. one made by CreateAuthorityFiles and trusted
// in a browser.
func LoadAuthority(certFile, keyFile string) (*Authority, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load CA %s, %s: %w", certFile, keyFile, err)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("load CA %s: the key cannot sign", keyFile)
	}
	a, err := fromParts(pair.Certificate[0], signer)
	if err != nil {
		return nil, fmt.Errorf("load CA %s: %w", certFile, err)
	}
	return a, nil
}

// CreateAuthorityFiles makes a long-lived CA for the user to keep and
// trust: DIR/ca.pem (0444) and DIR/ca-key.pem (0400), in a directory
// created 0700. It refuses to overwrite.
func CreateAuthorityFiles(dir string) (certFile, keyFile string, err error) {
	a, err := newAuthority("htapod user ca", 2*365*24*time.Hour)
	if err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", err
	}
	certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	keyDER, err := x509.MarshalPKCS8PrivateKey(a.key)
	if err != nil {
		return "", "", err
	}
	if err := writeNew(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o400); err != nil {
		return "", "", err
	}
	if err := writeNew(certFile, a.certPEM, 0o444); err != nil {
		os.Remove(keyFile)
		return "", "", err
	}
	return certFile, keyFile, nil
}

func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// CertPEM is the CA certificate in PEM form.
func (a *Authority) CertPEM() []byte { return a.certPEM }

// Certificate is the CA certificate.
func (a *Authority) Certificate() *x509.Certificate { return a.cert }

// Name is the CA's common name, as a client names it in errors.
func (a *Authority) Name() string { return a.cert.Subject.CommonName }

func randomSerial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// normalizeName lower-cases a host name and drops a final dot.
func normalizeName(s string) string {
	return strings.TrimSuffix(strings.ToLower(s), ".")
}
