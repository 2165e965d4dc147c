package htapod

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/htapod/htapod/dns"
	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/netstack"
	"github.com/htapod/htapod/relay"
	"github.com/htapod/htapod/route"
	"github.com/htapod/htapod/sandbox"
	"github.com/htapod/htapod/sink/text"
)

// drainGrace is how long flows may go on after the command exited: its
// sockets were closed by the kernel, and their FINs and RSTs are on the way.
const drainGrace = 500 * time.Millisecond

// hostResolvConf is where the host's resolver configuration is read from.
const hostResolvConf = "/etc/resolv.conf"

// Run runs argv in a box and returns its status when it has exited and
// every report is written. err is non-nil only when htapod itself failed
// (the box could not be built); it is then a *sandbox.Error with a hint
// when one is known. Cancelling ctx kills the command.
func (r *Runner) Run(ctx context.Context, argv ...string) (Status, error) {
	if len(argv) == 0 {
		return Status{Code: 125}, errors.New("no command to run")
	}
	c := &r.cfg
	runDir, err := os.MkdirTemp("", "htapod-")
	if err != nil {
		return Status{Code: 125}, fmt.Errorf("create run directory: %w", err)
	}
	defer os.RemoveAll(runDir)

	handlers := append([]event.Handler(nil), c.handlers...)
	if c.report != nil {
		handlers = append(handlers, text.New(c.report).Handle)
	}
	emit := func(e event.Event) {
		for _, h := range handlers {
			h(e)
		}
	}

	hostConf, err := mdns.ClientConfigFromFile(hostResolvConf)
	if err != nil {
		hostConf = &mdns.ClientConfig{Servers: []string{"127.0.0.1"}, Port: "53"}
		emit(&event.Notice{Time: time.Now(), Level: "warn",
			Message: fmt.Sprintf("cannot read %s (%v): forwarding DNS to 127.0.0.1", hostResolvConf, err)})
	}
	resolvConf := filepath.Join(runDir, "resolv.conf")
	if err := os.WriteFile(resolvConf, innerResolvConf(hostResolvConf), 0o644); err != nil {
		return Status{Code: 125}, fmt.Errorf("write resolv.conf: %w", err)
	}
	resolver, err := dns.New(dns.Config{
		Servers:   upstreams(hostConf),
		HostsFile: "/etc/hosts",
		Static:    map[string][]netip.Addr{HostName: c.hostMaps},
		Events:    emit,
	})
	if err != nil {
		return Status{Code: 125}, err
	}
	fwd := relay.New(relay.Config{
		Router:   r.router(),
		Services: map[route.Service]relay.Service{route.DNS: resolver},
		Events:   emit,
		Name:     resolver.Name,
		Logger:   c.logger,
	})

	box, err := sandbox.Start(sandbox.Spec{
		Argv: argv, Env: c.env, Root: c.root,
		Addr4: BoxAddr4, Addr6: BoxAddr6,
		Binds: []sandbox.Bind{{Src: resolvConf, Dst: "/etc/resolv.conf"}},
		Stdin: c.stdin, Stdout: c.stdout, Stderr: c.stderr,
	})
	if err != nil {
		return Status{Code: 125}, err
	}
	defer box.TUN.Close()
	st, err := netstack.New(netstack.Config{
		FD:     int(box.TUN.Fd()),
		MTU:    sandbox.DefaultMTU,
		TCP:    func(req *netstack.TCPRequest) { fwd.HandleTCP(req.Src, req.Dst, inbound{req}) },
		UDP:    func(req *netstack.UDPRequest) { fwd.HandleUDP(req.Src, req.Dst, req.Conn) },
		Logger: c.logger,
	})
	if err != nil {
		box.Signal(os.Kill)
		box.Wait()
		return Status{Code: 125}, err
	}
	if err := box.Go(); err != nil {
		box.Signal(os.Kill)
		box.Wait()
		st.Close()
		return Status{Code: 125}, err
	}
	stop := context.AfterFunc(ctx, func() { box.Signal(os.Kill) })
	status, werr := box.Wait()
	stop()

	dctx, cancel := context.WithTimeout(context.Background(), drainGrace)
	fwd.Drain(dctx)
	cancel()
	cctx, cancel := context.WithTimeout(context.Background(), time.Second)
	fwd.Close(cctx)
	cancel()
	st.Close()
	return status, werr
}

// router is the run's routing chain: the resolver's addresses, then the
// user's mappings, then straight to the destination.
func (r *Runner) router() route.Router {
	rules := append([]route.Rule(nil), r.cfg.rules...)
	for _, a := range r.cfg.hostMaps {
		lo := netip.AddrFrom4([4]byte{127, 0, 0, 1})
		if a.Is6() {
			lo = netip.IPv6Loopback()
		}
		rules = append(rules, route.Rule{From: netip.AddrPortFrom(a, 0), To: netip.AddrPortFrom(lo, 0)})
	}
	return route.LocalDNS([]netip.Addr{ResolverAddr4, ResolverAddr6}, route.Map(rules, route.Direct))
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

// inbound adapts a netstack TCP request to the relay's Inbound.
type inbound struct{ r *netstack.TCPRequest }

func (in inbound) Accept() (relay.Conn, error) {
	c, err := in.r.Accept()
	if err != nil {
		return nil, err
	}
	return c, nil
}
func (in inbound) Reset()       { in.r.Reset() }
func (in inbound) Unreachable() { in.r.Unreachable() }
func (in inbound) Drop()        { in.r.Drop() }
