package e2e

import (
	"net"
	"strings"
	"testing"

	"github.com/htapod/htapod/internal/lab"
)

// TestDNS resolves the lab's names through htapod's built-in resolver,
// which forwards to the lab's DNS server that it finds in the lab's
// /etc/resolv.conf, and through the other ways a program finds addresses.
func TestDNS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name     string
		argv     []string
		want     string   // stdout, exactly; or a substring if contains
		contains bool     // want is a substring of stdout
		fields   bool     // compare whitespace-separated fields
		lines    []string // each must be in stdout
		dns      string   // a name the report must show resolved
	}{
		{name: "A", argv: dig("+short", "www.lab.test"), want: lab.WWW4 + "\n", dns: "www.lab.test"},
		{name: "A over TCP", argv: dig("+short", "+tcp", "api.lab.test"), want: lab.API4 + "\n"},
		{name: "AAAA", argv: dig("+short", "AAAA", "www.lab.test"), want: lab.WWW6 + "\n"},
		{name: "CNAME", argv: dig("+short", "alias.lab.test"), want: "www.lab.test.\n" + lab.WWW4 + "\n"},
		{name: "MX", argv: dig("+short", "MX", "lab.test"), want: "10 mail.lab.test.\n"},
		{name: "TXT", argv: dig("+short", "TXT", "lab.test"), want: `"v=lab1 htapod sealed test zone"` + "\n"},
		{name: "SRV", argv: dig("+short", "SRV", "_http._tcp.lab.test"), want: "0 5 80 www.lab.test.\n"},
		{name: "PTR", argv: dig("+short", "-x", lab.WWW4), want: "www.lab.test.\n"},
		{name: "SERVFAIL", argv: dig(lab.FailName), want: "status: SERVFAIL", contains: true},
		{name: "NXDOMAIN", argv: dig("nope.lab.test"), want: "status: NXDOMAIN", contains: true},
		{name: "truncated then TCP", argv: dig("+short", "TXT", lab.BigName), lines: quoted(lab.BigTXT())},
		{name: "hosts file", argv: []string{"getent", "hosts", lab.HostsOnlyName}, want: lab.API4 + " " + lab.HostsOnlyName + " hosts-only", fields: true},
		{name: "search domain", argv: []string{"curl", "-sS", "http://www/"}, want: lab.IndexHTML},
		{name: "getaddrinfo", argv: []string{"getent", "ahostsv4", "api.lab.test"}, want: lab.API4, contains: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.htapod(append([]string{"--"}, tt.argv...)...)
			if res.ExitCode != 0 {
				t.Fatalf("htapod -- %q: %v; want exit 0", tt.argv, res)
			}
			got := string(res.Stdout)
			switch {
			case tt.lines != nil:
				for _, l := range tt.lines {
					if !strings.Contains(got, l) {
						t.Errorf("htapod -- %q: stdout lacks %.40q...; got:\n%s", tt.argv, l, got)
						break
					}
				}
			case tt.contains && !strings.Contains(got, tt.want):
				t.Errorf("htapod -- %q: stdout lacks %q; got:\n%s", tt.argv, tt.want, got)
			case tt.fields && strings.Join(strings.Fields(got), " ") != tt.want:
				t.Errorf("htapod -- %q: stdout = %q; want fields %q", tt.argv, got, tt.want)
			case !tt.contains && !tt.fields && got != tt.want:
				t.Errorf("htapod -- %q: stdout = %q; want %q\nstderr:\n%s", tt.argv, got, tt.want, res.Stderr)
			}
			if tt.dns != "" {
				wantDNS(t, string(res.Stderr), tt.dns)
			}
		})
	}
}

// TestDNSOtherServer sends a query to a server of the command's choosing:
// htapod relays it as a plain UDP flow to that server.
func TestDNSOtherServer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	before := e.DNS().Queries()
	res := e.htapod("-v", "--", "dig", "+time=3", "+tries=1", "+short", "@"+lab.DNS4, "www.lab.test")
	if res.ExitCode != 0 || string(res.Stdout) != lab.WWW4+"\n" {
		t.Fatalf("htapod -- dig @%s www.lab.test: %v; want exit 0 and %s", lab.DNS4, res, lab.WWW4)
	}
	if e.DNS().Queries() == before {
		t.Errorf("the lab's DNS server got no query")
	}
	wantFlow(t, string(res.Stderr), "udp", []string{net.JoinHostPort(lab.DNS4, "53")}, "closed", "idle")
}

// dig returns a dig command line with args, bounded to a few seconds.
func dig(args ...string) []string {
	return append([]string{"dig", "+time=3", "+tries=2"}, args...)
}

// quoted returns each of txt as dig prints a TXT string.
func quoted(txt []string) []string {
	q := make([]string, len(txt))
	for i, s := range txt {
		q[i] = `"` + s + `"`
	}
	return q
}
