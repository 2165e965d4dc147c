package htapod

import (
	"crypto/x509"
	"fmt"
	"path"
	"strings"
	"sync"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/internal/sandbox"
	"github.com/htapod/htapod/internal/tlsmitm"
)

// Authority is a certificate authority that signs the certificates htapod
// shows the command for intercepted TLS (see LoadAuthority).
type Authority struct{ ca *tlsmitm.Authority }

// LoadAuthority reads a CA the user keeps (PEM certificate and key), for
// WithAuthority.
func LoadAuthority(certFile, keyFile string) (*Authority, error) {
	ca, err := tlsmitm.LoadAuthority(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return &Authority{ca}, nil
}

// CreateAuthorityFiles makes a long-lived CA for the user to keep and
// trust: DIR/ca.pem (0444) and DIR/ca-key.pem (0400), in a directory
// created 0700. It refuses to overwrite.
func CreateAuthorityFiles(dir string) (certFile, keyFile string, err error) {
	return tlsmitm.CreateAuthorityFiles(dir)
}

// authority is the run's CA (nil when not intercepting): the caller's, or
// a fresh one.
func (r *Runner) authority(intercept bool) (*tlsmitm.Authority, error) {
	if !intercept {
		return nil, nil
	}
	if r.cfg.authority != nil {
		return r.cfg.authority.ca, nil
	}
	return tlsmitm.NewAuthority()
}

// trustFiles writes what makes the box trust auth into runDir, and returns
// the mounts and environment that put it in place. It says which stores
// took the CA (emit, and rf for the end-of-run notice).
func (r *Runner) trustFiles(auth *tlsmitm.Authority, runDir string, rf *refusals, emit event.Handler) ([]sandbox.Bind, []string, error) {
	if auth == nil {
		return nil, nil, nil
	}
	trust, err := tlsmitm.WriteTrust(auth, runDir, r.cfg.env)
	if err != nil {
		return nil, nil, err
	}
	rf.setTrust(trust)
	for _, n := range trustNotices(trust) {
		emit(n)
	}
	binds := make([]sandbox.Bind, 0, len(trust.Mounts))
	for _, m := range trust.Mounts {
		binds = append(binds, sandbox.Bind{Src: m.Src, Dst: m.Dst, Overlay: m.Overlay})
	}
	return binds, trust.Env, nil
}

// interceptor returns the run's TLS interceptor, or nil without a CA.
func (r *Runner) interceptor(auth *tlsmitm.Authority) *tlsmitm.Interceptor {
	if auth == nil {
		return nil
	}
	c := &r.cfg
	// The system roots load in the background while the box starts; the
	// first interception waits for them.
	extra := c.upstreamCAs
	roots := sync.OnceValue(func() *x509.CertPool {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		for _, ca := range extra {
			pool.AddCert(ca)
		}
		return pool
	})
	go roots()
	cfg := tlsmitm.Config{Authority: auth, RootsFunc: roots, Insecure: c.insecure, KeyLog: c.keyLog, UpstreamCAs: extra}
	if c.pcap != nil {
		cfg.ClientKeyLog = c.pcap
	}
	return tlsmitm.New(cfg)
}

// passthrough returns the matcher for the WithPassthrough patterns, or nil.
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

// ValidPattern reports whether a WithPassthrough pattern is well formed.
func ValidPattern(p string) error {
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("bad host pattern %q: %w", p, err)
	}
	return nil
}
