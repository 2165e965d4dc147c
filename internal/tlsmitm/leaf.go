package tlsmitm

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// leafValidity bounds a leaf's lifetime (and the CA's end bounds it too).
const leafValidity = 24 * time.Hour

// maxLeaves bounds the cache; when full it starts afresh.
const maxLeaves = 4096

// Leaf returns a certificate for the given DNS names and IP addresses,
// signed by the authority, minting it on first use and caching it. The
// alphabetically first name becomes the subject's common name (names are
// sorted so that the same set, in any order, is one cached leaf).
func (a *Authority) Leaf(names []string, ips []netip.Addr) (*tls.Certificate, error) {
	names = uniqueSorted(names)
	ips = slices.Clone(ips)
	slices.SortFunc(ips, netip.Addr.Compare)
	ips = slices.Compact(ips)
	key := cacheKey(names, ips)
	a.mu.Lock()
	if c, ok := a.leaves[key]; ok {
		a.mu.Unlock()
		return c, nil
	}
	a.mu.Unlock()

	c, err := a.mint(names, ips)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	if len(a.leaves) >= maxLeaves {
		clear(a.leaves)
	}
	a.leaves[key] = c
	a.mu.Unlock()
	return c, nil
}

func (a *Authority) mint(names []string, ips []netip.Addr) (*tls.Certificate, error) {
	now := time.Now()
	notAfter := now.Add(leafValidity)
	if notAfter.After(a.cert.NotAfter) {
		notAfter = a.cert.NotAfter
	}
	cn := ""
	if len(names) > 0 {
		cn = names[0]
	} else if len(ips) > 0 {
		cn = ips[0].String()
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"htapod"}},
		DNSNames:     names,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(ip.AsSlice()))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, a.leafKey.Public(), a.key)
	if err != nil {
		return nil, fmt.Errorf("mint certificate for %s: %w", cn, err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return &tls.Certificate{
		Certificate: [][]byte{der, a.cert.Raw},
		PrivateKey:  a.leafKey,
		Leaf:        leaf,
	}, nil
}

func uniqueSorted(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if n = normalizeName(n); n != "" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func cacheKey(names []string, ips []netip.Addr) string {
	var b strings.Builder
	// Kinds are marked: a DNS name spelled like an IP is not that IP.
	for _, n := range names {
		b.WriteString("dns:" + n + ",")
	}
	for _, ip := range ips {
		b.WriteString("ip:" + ip.String() + ",")
	}
	return b.String()
}
