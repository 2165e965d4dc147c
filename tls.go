package htapod

import (
	"crypto/x509"
	"fmt"
	"path"
	"strings"

	"github.com/htapod/htapod/internal/sandbox"
	"github.com/htapod/htapod/internal/tlsmitm"
)

// tlsSetup prepares interception for a run: the authority, the trust files
// in runDir with their mounts and environment, and the interceptor.
func (r *Runner) tlsSetup(runDir string, intercept bool) (*tlsmitm.Interceptor, []sandbox.Bind, []string, error) {
	c := &r.cfg
	if !intercept {
		return nil, nil, nil, nil
	}
	auth := c.authority
	if auth == nil {
		var err error
		if auth, err = tlsmitm.NewAuthority(); err != nil {
			return nil, nil, nil, err
		}
	}
	trust, err := tlsmitm.WriteTrust(auth, runDir, c.env)
	if err != nil {
		return nil, nil, nil, err
	}
	binds := make([]sandbox.Bind, 0, len(trust.Mounts))
	for _, m := range trust.Mounts {
		binds = append(binds, sandbox.Bind{Src: m.Src, Dst: m.Dst})
	}
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	for _, ca := range c.upstreamCAs {
		roots.AddCert(ca)
	}
	cfg := tlsmitm.Config{Authority: auth, Roots: roots, Insecure: c.insecure, KeyLog: c.keyLog}
	if c.pcap != nil {
		cfg.ClientKeyLog = c.pcap
	}
	ic := tlsmitm.New(cfg)
	return ic, binds, trust.Env, nil
}

// passthrough returns the matcher for the Passthrough patterns, or nil.
func (r *Runner) passthrough() func(string) bool {
	pats := r.cfg.passthrough
	if len(pats) == 0 {
		return nil
	}
	return func(sni string) bool {
		sni = strings.ToLower(strings.TrimSuffix(sni, "."))
		for _, p := range pats {
			if ok, _ := path.Match(strings.ToLower(p), sni); ok {
				return true
			}
		}
		return false
	}
}

// ValidPattern reports whether a Passthrough pattern is well formed.
func ValidPattern(p string) error {
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("bad host pattern %q: %w", p, err)
	}
	return nil
}
