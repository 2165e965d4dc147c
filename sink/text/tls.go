package text

import (
	"strings"

	"github.com/htapod/htapod/event"
)

// tlsDetails renders, under a tls line, what the client offered, the
// cipher suite, and the real server's certificate with how it was
// verified: indented lines, "" when there is nothing to say.
func (s *Sink) tlsDetails(t *event.TLS) string {
	var lines []string
	var hs []string
	if len(t.VersionsOffered) > 0 {
		hs = append(hs, "offered "+strings.Join(t.VersionsOffered, ", "))
	}
	if t.CipherSuite != "" {
		hs = append(hs, "cipher "+t.CipherSuite)
	}
	if len(hs) > 0 {
		lines = append(lines, strings.Join(hs, "  "))
	}
	if c := t.Cert; c != nil {
		lines = append(lines, "cert  subject "+orDefault(c.Subject, "(none)")+"  issuer "+orDefault(c.Issuer, "(none)"))
		names := append(append([]string(nil), c.DNSNames...), c.IPs...)
		var nl []string
		if len(names) > 0 {
			nl = append(nl, "names "+strings.Join(names, ", "))
		}
		if !c.NotAfter.IsZero() {
			nl = append(nl, "not after "+c.NotAfter.UTC().Format("2006-01-02 15:04 MST"))
		}
		if len(nl) > 0 {
			lines = append(lines, "      "+strings.Join(nl, "  "))
		}
		lines = append(lines, "      "+verification(c))
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("       " + s.paint(dim, l) + "\n")
	}
	return b.String()
}

// verification says in words how a certificate was verified.
func verification(c *event.Cert) string {
	switch c.Verified {
	case event.VerifiedSystem:
		return "verified by the system roots"
	case event.VerifiedUpstreamCA:
		return "verified by --upstream-ca"
	case event.VerifiedInsecure:
		if c.VerifyErr != "" {
			return "not verified (--insecure); verification would fail: " + c.VerifyErr
		}
		return "not verified (--insecure); it would verify"
	case event.VerifiedFailed:
		return "verification failed: " + c.VerifyErr
	}
	return "verification: " + orDefault(c.Verified, "unknown")
}
