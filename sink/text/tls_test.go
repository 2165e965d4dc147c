package text

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/htapod/htapod/event"
)

// TestTLSDetails renders the tls line with -v, and what follows it: the
// offered versions and cipher suite, the real certificate and how it was
// verified; a failure shows them without -v.
func TestTLSDetails(t *testing.T) {
	notAfter := time.Date(2027, 3, 4, 5, 6, 0, 0, time.UTC)
	cert := func(verified, why string) *event.Cert {
		return &event.Cert{Subject: "CN=www.lab.test", Issuer: "CN=Lab CA", DNSNames: []string{"www.lab.test"},
			IPs: []string{"203.0.113.10"}, NotAfter: notAfter, Verified: verified, VerifyErr: why}
	}
	server := netip.MustParseAddrPort("203.0.113.10:443")
	tests := []struct {
		name    string
		verbose bool
		in      *event.TLS
		want    string
	}{
		{"intercepted", true, &event.TLS{SNI: "www.lab.test", Server: server, Intercepted: true, Version: "TLS 1.3", ALPN: "h2",
			VersionsOffered: []string{"TLS 1.3", "TLS 1.2"}, CipherSuite: "TLS_AES_128_GCM_SHA256", Cert: cert(event.VerifiedUpstreamCA, "")},
			"tls   www.lab.test  TLS 1.3  h2  intercepted\n" +
				"       offered TLS 1.3, TLS 1.2  cipher TLS_AES_128_GCM_SHA256\n" +
				"       cert  subject CN=www.lab.test  issuer CN=Lab CA\n" +
				"             names www.lab.test, 203.0.113.10  not after 2027-03-04 05:06 UTC\n" +
				"             verified by --upstream-ca\n"},
		{"not shown without -v", false, &event.TLS{SNI: "www.lab.test", Intercepted: true, Version: "TLS 1.3", Cert: cert(event.VerifiedSystem, "")}, ""},
		{"insecure", true, &event.TLS{SNI: "www.lab.test", Intercepted: true, Version: "TLS 1.2", Cert: cert(event.VerifiedInsecure, "x509: certificate has expired")},
			"tls   www.lab.test  TLS 1.2  intercepted\n" +
				"       cert  subject CN=www.lab.test  issuer CN=Lab CA\n" +
				"             names www.lab.test, 203.0.113.10  not after 2027-03-04 05:06 UTC\n" +
				"             not verified (--insecure); verification would fail: x509: certificate has expired\n"},
		{"failed", false, &event.TLS{SNI: "www.lab.test", Err: "upstream: bad", VersionsOffered: []string{"TLS 1.3"}, Cert: cert(event.VerifiedFailed, "x509: certificate signed by unknown authority")},
			"tls  www.lab.test  ✗ upstream: bad\n" +
				"       offered TLS 1.3\n" +
				"       cert  subject CN=www.lab.test  issuer CN=Lab CA\n" +
				"             names www.lab.test, 203.0.113.10  not after 2027-03-04 05:06 UTC\n" +
				"             verification failed: x509: certificate signed by unknown authority\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			NewWithOptions(&buf, Options{Verbose: tt.verbose}).Handle(tt.in)
			if got := buf.String(); got != tt.want {
				t.Errorf("Handle(%s) wrote\n%s\nwant\n%s", tt.name, got, tt.want)
			}
		})
	}
}
