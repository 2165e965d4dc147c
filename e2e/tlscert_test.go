package e2e

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/htapod/htapod/internal/lab"
)

// tlsEvent is the tls event of docs/json.md, as a reader decodes it.
type tlsEvent struct {
	Type, SNI, Version, ALPN, Error string
	Intercepted                     bool
	VersionsOffered                 []string `json:"versions_offered"`
	CipherSuite                     string   `json:"cipher_suite"`
	Cert                            *struct {
		Subject, Issuer, Verified string
		DNSNames                  []string `json:"dns_names"`
		NotAfter                  string   `json:"not_after"`
		VerifyError               string   `json:"verify_error"`
	}
}

// tlsEvents returns the tls events of a --json output.
func tlsEvents(t *testing.T, out []byte) []tlsEvent {
	t.Helper()
	var evs []tlsEvent
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev tlsEvent
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Type == "tls" {
			evs = append(evs, ev)
		}
	}
	return evs
}

// leafOf parses the leaf of a lab certificate.
func leafOf(t *testing.T, c tls.Certificate) *x509.Certificate {
	t.Helper()
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

// TestTLSCertFacts: the tls event in JSON and the -v report say what the
// real server's certificate is (the lab's, compared field by field) and
// how htapod verified it — by --upstream-ca, failed with the reason, or
// not at all with --insecure (saying what verification would have said)
// — with the versions curl offered and the cipher suite.
func TestTLSCertFacts(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	e.StartTLSServers()
	pki := e.pki
	curl := []string{"curl", "-sS", "--max-time", "20", "-o", "/dev/null"}
	tests := []struct {
		name      string
		flags     []string
		port      int
		cert      tls.Certificate
		verified  string
		verifyErr string
		verbose   string // the -v line that says how it was verified
	}{
		{"verified by --upstream-ca", nil, 443, pki.Server, "upstream-ca", "", "verified by --upstream-ca"},
		{"untrusted", nil, lab.PortUntrusted, pki.Untrusted, "failed", "certificate signed by unknown authority",
			"verification failed: x509: certificate signed by unknown authority"},
		{"expired with --insecure", []string{"--insecure"}, lab.PortExpired, pki.Expired, "insecure", "expired",
			"not verified (--insecure); verification would fail: x509: certificate has expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := labURL(tt.port, "/")
			if tt.port == 443 {
				url = "https://www.lab.test/"
			}
			leaf := leafOf(t, tt.cert)
			args := append(append(append([]string{"--json"}, tt.flags...), "--"), append(curl, url)...)
			res := e.tap(lab.RunOptions{}, args...)
			evs := tlsEvents(t, res.Stderr)
			if len(evs) != 1 || evs[0].Cert == nil {
				t.Fatalf("htapod %q: tls events %+v; want one with a cert; output:\n%s", args, evs, res.Stderr)
			}
			ev, c := evs[0], evs[0].Cert
			if c.Subject != leaf.Subject.String() || c.Issuer != leaf.Issuer.String() || !slices.Equal(c.DNSNames, leaf.DNSNames) {
				t.Errorf("cert = %s by %s for %q; want the lab's %s by %s for %q", c.Subject, c.Issuer, c.DNSNames,
					leaf.Subject, leaf.Issuer, leaf.DNSNames)
			}
			if na, err := time.Parse(time.RFC3339Nano, c.NotAfter); err != nil || !na.Equal(leaf.NotAfter) {
				t.Errorf("cert not_after = %q; want %s", c.NotAfter, leaf.NotAfter.UTC().Format(time.RFC3339))
			}
			if c.Verified != tt.verified || !strings.Contains(c.VerifyError, tt.verifyErr) || (tt.verifyErr == "") != (c.VerifyError == "") {
				t.Errorf("cert verified, verify_error = %q, %q; want %q, %q", c.Verified, c.VerifyError, tt.verified, tt.verifyErr)
			}
			if !slices.Contains(ev.VersionsOffered, "TLS 1.3") || !slices.Contains(ev.VersionsOffered, "TLS 1.2") {
				t.Errorf("versions_offered = %q; want curl's TLS 1.3 and TLS 1.2", ev.VersionsOffered)
			}
			if tt.verified != "failed" && !strings.HasPrefix(ev.CipherSuite, "TLS_") {
				t.Errorf("cipher_suite = %q; want a suite's name", ev.CipherSuite)
			}

			args = append(append(append([]string{"-v"}, tt.flags...), "--"), append(curl, url)...)
			report := string(e.tap(lab.RunOptions{}, args...).Stderr)
			for _, want := range []string{"cert  subject " + leaf.Subject.String() + "  issuer " + leaf.Issuer.String(),
				"not after " + leaf.NotAfter.UTC().Format("2006-01-02 15:04 MST"), tt.verbose, "offered TLS 1.3, TLS 1.2"} {
				if !strings.Contains(report, want) {
					t.Errorf("htapod -v report lacks %q; report:\n%s", want, report)
				}
			}
		})
	}
}
