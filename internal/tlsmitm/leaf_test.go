package tlsmitm

import (
	"crypto/x509"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func ipStrings(ips []net.IP) []string {
	var out []string
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	slices.Sort(out)
	return out
}

func TestLeaf(t *testing.T) {
	a := newTestAuthority(t)
	roots := poolOf(a)
	tests := []struct {
		name      string
		names     []string
		ips       []netip.Addr
		wantNames []string // sorted
		wantIPs   []string // sorted strings
		wantCN    string
		verify    []string // names and IPs a client may verify
	}{
		{
			name:      "one name",
			names:     []string{"example.test"},
			wantNames: []string{"example.test"},
			wantCN:    "example.test",
			verify:    []string{"example.test"},
		},
		{
			name:      "case, final dot, duplicates, empty",
			names:     []string{"WWW.Example.TEST", "www.example.test.", "", "api.example.test", "api.example.test"},
			wantNames: []string{"api.example.test", "www.example.test"},
			wantCN:    "api.example.test",
			verify:    []string{"www.example.test", "api.example.test", "WWW.EXAMPLE.TEST"},
		},
		{
			name:      "wildcard",
			names:     []string{"*.Wild.test"},
			wantNames: []string{"*.wild.test"},
			wantCN:    "*.wild.test",
			verify:    []string{"a.wild.test", "b.wild.test"},
		},
		{
			name:    "IPs only",
			ips:     addrs("192.0.2.7", "2001:db8::1", "192.0.2.7"),
			wantIPs: []string{"192.0.2.7", "2001:db8::1"},
			wantCN:  "192.0.2.7",
			verify:  []string{"192.0.2.7", "2001:db8::1"},
		},
		{
			name:      "names and IPs",
			names:     []string{"b.test", "a.test"},
			ips:       addrs("::1", "127.0.0.1"),
			wantNames: []string{"a.test", "b.test"},
			wantIPs:   []string{"127.0.0.1", "::1"},
			wantCN:    "a.test",
			verify:    []string{"a.test", "b.test", "127.0.0.1", "::1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := a.Leaf(tt.names, tt.ips)
			if err != nil {
				t.Fatalf("Leaf(%q, %v) error = %v", tt.names, tt.ips, err)
			}
			leaf := c.Leaf
			if leaf == nil {
				t.Fatalf("Leaf(%q, %v).Leaf = nil; want the parsed certificate", tt.names, tt.ips)
			}
			if got := slices.Sorted(slices.Values(leaf.DNSNames)); !slices.Equal(got, tt.wantNames) {
				t.Errorf("Leaf(%q, %v) DNS names = %q; want %q", tt.names, tt.ips, got, tt.wantNames)
			}
			if got := ipStrings(leaf.IPAddresses); !slices.Equal(got, tt.wantIPs) {
				t.Errorf("Leaf(%q, %v) IPs = %q; want %q", tt.names, tt.ips, got, tt.wantIPs)
			}
			if leaf.Subject.CommonName != tt.wantCN {
				t.Errorf("Leaf(%q, %v) CN = %q; want %q", tt.names, tt.ips, leaf.Subject.CommonName, tt.wantCN)
			}
			if leaf.IsCA {
				t.Errorf("Leaf(%q, %v).IsCA = true; want false", tt.names, tt.ips)
			}
			if len(c.Certificate) != 2 || !slices.Equal(c.Certificate[1], a.Certificate().Raw) {
				t.Errorf("Leaf(%q, %v) chain has %d certificates; want leaf + CA", tt.names, tt.ips, len(c.Certificate))
			}
			for _, name := range tt.verify {
				_, err := leaf.Verify(x509.VerifyOptions{
					DNSName:   name,
					Roots:     roots,
					KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
				})
				if err != nil {
					t.Errorf("Leaf(%q, %v).Verify(%s) error = %v; want nil", tt.names, tt.ips, name, err)
				}
			}
			if !leaf.NotAfter.After(time.Now()) || leaf.NotBefore.After(time.Now()) {
				t.Errorf("Leaf validity %v..%v; want it to cover now", leaf.NotBefore, leaf.NotAfter)
			}
			if leaf.NotAfter.After(a.Certificate().NotAfter) {
				t.Errorf("Leaf NotAfter %v; want not after the CA's %v", leaf.NotAfter, a.Certificate().NotAfter)
			}

			// The same set in another order is the same certificate.
			names := slices.Clone(tt.names)
			slices.Reverse(names)
			ips := slices.Clone(tt.ips)
			slices.Reverse(ips)
			again, err := a.Leaf(names, ips)
			if err != nil {
				t.Fatal(err)
			}
			if again != c {
				t.Errorf("Leaf(%q, %v) = %p, after Leaf(%q, %v) = %p; want the cached certificate", names, ips, again, tt.names, tt.ips, c)
			}
		})
	}

	t.Run("wrong name does not verify", func(t *testing.T) {
		c, err := a.Leaf([]string{"right.test"}, addrs("192.0.2.1"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"wrong.test", "192.0.2.2", "sub.right.test"} {
			if _, err := c.Leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots}); err == nil {
				t.Errorf("Leaf(right.test).Verify(%s) error = nil; want a name mismatch", name)
			}
		}
	})

	t.Run("different sets differ", func(t *testing.T) {
		c1, _ := a.Leaf([]string{"one.test"}, nil)
		c2, _ := a.Leaf([]string{"one.test", "two.test"}, nil)
		c3, _ := a.Leaf([]string{"one.test"}, addrs("192.0.2.1"))
		if c1 == c2 || c1 == c3 || c2 == c3 {
			t.Errorf("Leaf of different sets returned the same certificate")
		}
	})

	t.Run("another authority does not verify", func(t *testing.T) {
		other := newTestAuthority(t)
		c, _ := other.Leaf([]string{"x.test"}, nil)
		if _, err := c.Leaf.Verify(x509.VerifyOptions{DNSName: "x.test", Roots: roots}); err == nil {
			t.Errorf("leaf of another authority verifies against this one; want unknown authority")
		}
	})
}

func TestLeafWithinShortCA(t *testing.T) {
	a, err := newAuthority("short-lived ca", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c, err := a.Leaf([]string{"short.test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Leaf.NotAfter, a.Certificate().NotAfter; !got.Equal(want) {
		t.Errorf("Leaf NotAfter under a 10-minute CA = %v; want the CA's %v", got, want)
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{DNSName: "short.test", Roots: poolOf(a)}); err != nil {
		t.Errorf("Leaf under a short CA does not verify: %v", err)
	}
}

func TestLeafConcurrent(t *testing.T) {
	a := newTestAuthority(t)
	sets := [][]string{{"a.test"}, {"b.test"}, {"a.test", "b.test"}}
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(sets))
	for i := range 8 {
		for _, s := range sets {
			wg.Add(1)
			go func() {
				defer wg.Done()
				names := slices.Clone(s)
				if i%2 == 1 {
					slices.Reverse(names)
				}
				c, err := a.Leaf(names, nil)
				if err == nil {
					_, err = c.Leaf.Verify(x509.VerifyOptions{DNSName: s[0], Roots: poolOf(a)})
				}
				if err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Leaf: %v", err)
	}
	c1, _ := a.Leaf([]string{"a.test"}, nil)
	c2, _ := a.Leaf([]string{"a.test"}, nil)
	if c1 != c2 {
		t.Errorf("Leaf(a.test) twice after concurrent use = %p, %p; want the cached one", c1, c2)
	}
}

// TestLeafNameLikeIP: a DNS name spelled like an address (an SNI some
// clients send, a SAN some servers carry) and the address itself are
// different requests: a leaf for the IP must carry an IP SAN.
func TestLeafNameLikeIP(t *testing.T) {
	a := newTestAuthority(t)
	byName, err := a.Leaf([]string{"192.0.2.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	byIP, err := a.Leaf(nil, addrs("192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	if got := ipStrings(byIP.Leaf.IPAddresses); !slices.Equal(got, []string{"192.0.2.1"}) {
		t.Errorf("Leaf(nil, [192.0.2.1]) after Leaf([\"192.0.2.1\"], nil): IPs = %q, DNS names = %q; want IP 192.0.2.1", got, byIP.Leaf.DNSNames)
	}
	if _, err := byIP.Leaf.Verify(x509.VerifyOptions{DNSName: "192.0.2.1", Roots: poolOf(a)}); err != nil {
		t.Errorf("Leaf(nil, [192.0.2.1]).Verify(192.0.2.1) error = %v; want nil", err)
	}
	if byName == byIP {
		t.Errorf("Leaf(name 192.0.2.1) and Leaf(IP 192.0.2.1) are the same cached certificate; want distinct")
	}
}
