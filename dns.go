package htapod

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/internal/dns"
	"github.com/htapod/htapod/internal/sandbox"
	"github.com/htapod/htapod/policy"
)

// hostResolvConf is where the host's resolver configuration is read from.
const hostResolvConf = "/etc/resolv.conf"

// resolver builds the run's DNS resolver from the host's configuration and
// writes the box's resolv.conf into runDir; binds mount it in the box.
func (r *Runner) resolver(runDir string, emit event.Handler, enf *policy.Enforcer, late *boxLate) (*dns.Resolver, []sandbox.Bind, error) {
	hostConf, err := mdns.ClientConfigFromFile(hostResolvConf)
	if err != nil {
		hostConf = &mdns.ClientConfig{Servers: []string{"127.0.0.1"}, Port: "53"}
		emit(&event.Notice{Time: time.Now(), Level: "warn",
			Message: fmt.Sprintf("cannot read %s (%v): forwarding DNS to 127.0.0.1", hostResolvConf, err)})
	}
	path := filepath.Join(runDir, "resolv.conf")
	if err := os.WriteFile(path, innerResolvConf(hostResolvConf), 0o644); err != nil {
		return nil, nil, fmt.Errorf("write resolv.conf: %w", err)
	}
	var allow func(string, netip.AddrPort, event.Proto, *event.Process) (bool, string)
	if enf != nil {
		allow = enf.AllowDNS
	}
	cfg := dns.Config{
		Servers:   upstreams(hostConf),
		HostsFile: "/etc/hosts",
		Static:    map[string][]netip.Addr{HostName: r.cfg.hostMaps},
		Events:    emit,
		Process:   late.processFunc(),
		Allow:     allow,
	}
	if rp := r.cfg.act.replay; rp != nil {
		for name, addrs := range rp.Hosts {
			if _, ok := cfg.Static[name]; !ok {
				cfg.Static[name] = addrs
			}
		}
	}
	if r.cfg.act.offline() {
		cfg.Exchange = offlineExchange
	}
	res, err := dns.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	if enf != nil {
		enf.Resolved, enf.Known = res.Resolved, res.Known
	}
	return res, []sandbox.Bind{{Src: path, Dst: hostResolvConf, Required: true}}, nil
}

func upstreams(c *mdns.ClientConfig) []string {
	port := c.Port
	if port == "" {
		port = "53"
	}
	out := make([]string, 0, len(c.Servers))
	for _, s := range c.Servers {
		out = append(out, net.JoinHostPort(s, port))
	}
	return out
}

// innerResolvConf is the box's resolv.conf: htapod's resolver as the
// nameserver, and the host's search and options lines, so that the
// command's resolver behaves as the host's does.
func innerResolvConf(hostPath string) []byte {
	var b strings.Builder
	b.WriteString("# Written by htapod: DNS goes to htapod's resolver, which asks the host's.\n")
	fmt.Fprintf(&b, "nameserver %s\nnameserver %s\n", ResolverAddr4, ResolverAddr6)
	if host, err := os.ReadFile(hostPath); err == nil {
		for _, line := range strings.Split(string(host), "\n") {
			f := strings.Fields(line)
			if len(f) > 0 && (f[0] == "search" || f[0] == "domain" || f[0] == "options") {
				b.WriteString(line + "\n")
			}
		}
	}
	return []byte(b.String())
}
