package tlsmitm

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"slices"

	"github.com/htapod/htapod/event"
)

// peerCert describes the real server's leaf certificate of a completed
// upstream handshake and how it was verified: by the chain crypto/tls
// verified (ending at an --upstream-ca or a system root), or, with
// Insecure, by verifying it now only to say what verification would have
// said.
func (i *Interceptor) peerCert(st tls.ConnectionState, serverName string) *event.Cert {
	if len(st.PeerCertificates) == 0 {
		return nil
	}
	c := certOf(st.PeerCertificates[0])
	switch {
	case i.cfg.Insecure:
		c.Verified = event.VerifiedInsecure
		opts := x509.VerifyOptions{DNSName: serverName, Roots: i.roots(), Intermediates: x509.NewCertPool()}
		for _, ic := range st.PeerCertificates[1:] {
			opts.Intermediates.AddCert(ic)
		}
		if _, err := st.PeerCertificates[0].Verify(opts); err != nil {
			c.VerifyErr = err.Error()
		}
	case i.byUpstreamCA(st.VerifiedChains):
		c.Verified = event.VerifiedUpstreamCA
	default:
		c.Verified = event.VerifiedSystem
	}
	return c
}

// failedCert describes the certificate of an upstream handshake that
// failed its verification, or nil when err is another failure.
func failedCert(err error) *event.Cert {
	var ve *tls.CertificateVerificationError
	if !errors.As(err, &ve) || len(ve.UnverifiedCertificates) == 0 {
		return nil
	}
	c := certOf(ve.UnverifiedCertificates[0])
	c.Verified, c.VerifyErr = event.VerifiedFailed, ve.Err.Error()
	return c
}

// byUpstreamCA says a verified chain ends at one of Config.UpstreamCAs.
func (i *Interceptor) byUpstreamCA(chains [][]*x509.Certificate) bool {
	for _, chain := range chains {
		root := chain[len(chain)-1]
		if slices.ContainsFunc(i.cfg.UpstreamCAs, root.Equal) {
			return true
		}
	}
	return false
}

// certOf copies the facts of a certificate that the tls event reports.
func certOf(c *x509.Certificate) *event.Cert {
	out := &event.Cert{Subject: c.Subject.String(), Issuer: c.Issuer.String(),
		DNSNames: slices.Clone(c.DNSNames), NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC()}
	for _, ip := range c.IPAddresses {
		out.IPs = append(out.IPs, ip.String())
	}
	return out
}
