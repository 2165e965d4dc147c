package tlsmitm

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/htapod/htapod/event"
)

// TestInterceptReportsCert checks what a session and a failure say of the
// real server's certificate: its names and dates, and how it was verified
// (by a CA the user gave, by the other roots, not at all with Insecure,
// or failed with the reason), and the cipher suite.
func TestInterceptReportsCert(t *testing.T) {
	ca := newTestCA(t, "test upstream ca")
	other := newTestCA(t, "someone else's ca")
	auth := newTestAuthority(t)
	names := []string{"upstream.test", "www.upstream.test"}
	lo := []net.IP{net.IPv4(127, 0, 0, 1)}
	notAfter := time.Now().Add(12 * time.Hour).Truncate(time.Second)
	good := ca.issue(t, "upstream.test", names, lo, time.Now().Add(-time.Hour), notAfter)
	untrusted := other.issue(t, "upstream.test", names, lo, time.Now().Add(-time.Hour), notAfter)
	tests := []struct {
		name      string
		cert      tls.Certificate
		cfg       Config
		verified  string
		verifyErr string // a substring; "" for none
		issuer    string
	}{
		{"by an upstream CA", good, Config{Roots: ca.pool, UpstreamCAs: []*x509.Certificate{ca.cert}}, event.VerifiedUpstreamCA, "", "CN=test upstream ca"},
		{"by the system roots", good, Config{Roots: ca.pool}, event.VerifiedSystem, "", "CN=test upstream ca"},
		{"insecure, would verify", good, Config{Roots: ca.pool, Insecure: true}, event.VerifiedInsecure, "", "CN=test upstream ca"},
		{"insecure, would fail", untrusted, Config{Roots: ca.pool, Insecure: true}, event.VerifiedInsecure, "unknown authority", "CN=someone else's ca"},
		{"failed", untrusted, Config{Roots: ca.pool}, event.VerifiedFailed, "unknown authority", "CN=someone else's ca"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newTestUpstream(t, &tls.Config{Certificates: []tls.Certificate{tt.cert}})
			tt.cfg.Authority = auth
			r := intercept(t, up, tt.cfg, &tls.Config{ServerName: "upstream.test", RootCAs: poolOf(auth)}, "upstream.test", nil)
			var c *event.Cert
			if tt.verified == event.VerifiedFailed {
				var e *Error
				if !errors.As(r.err, &e) {
					t.Fatalf("Intercept error = %v; want *Error", r.err)
				}
				c = e.Cert
			} else {
				if r.err != nil {
					t.Fatalf("Intercept error = %v", r.err)
				}
				c = r.sess.Cert
				if got := tls.CipherSuiteName(r.sess.CipherSuite); got != tls.CipherSuiteName(r.client.ConnectionState().CipherSuite) {
					t.Errorf("Session.CipherSuite = %s; want the client's %s", got, tls.CipherSuiteName(r.client.ConnectionState().CipherSuite))
				}
			}
			if c == nil {
				t.Fatal("Cert = nil; want the upstream's certificate")
			}
			if c.Subject != "CN=upstream.test" || c.Issuer != tt.issuer || !slices.Equal(c.DNSNames, names) ||
				!slices.Equal(c.IPs, []string{"127.0.0.1"}) || !c.NotAfter.Equal(notAfter) {
				t.Errorf("Cert = %+v; want CN=upstream.test by %s, names %q, IP 127.0.0.1, not after %v", c, tt.issuer, names, notAfter)
			}
			if c.Verified != tt.verified || (tt.verifyErr == "") != (c.VerifyErr == "") || !strings.Contains(c.VerifyErr, tt.verifyErr) {
				t.Errorf("Verified, VerifyErr = %q, %q; want %q, %q", c.Verified, c.VerifyErr, tt.verified, tt.verifyErr)
			}
		})
	}
}
