// Package dns is htapod's built-in resolver: the nameserver that the box's
// resolv.conf names. It answers from the host's hosts file and htapod's own
// names (host.htapod.internal), and forwards everything else to the host's
// configured nameservers from the host side, so a local stub resolver
// (127.0.0.53) works as it does outside. Answers keep their meaning:
// NXDOMAIN stays NXDOMAIN, SERVFAIL stays SERVFAIL, a truncated UDP answer
// stays truncated so the client retries over TCP.
//
// It also remembers which name each answered address came from, so that
// flow reports can say "www.lab.test" and not only "203.0.113.10".
package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/htapod/htapod/event"
)

// Config of a Resolver. The zero value forwards to nothing: set Servers.
type Config struct {
	// Servers are the upstream nameservers, "host:port", tried in order.
	Servers []string
	// HostsFile is read once at New; "" means none.
	HostsFile string
	// Static names answered by htapod itself (lower-case, no final dot).
	Static map[string][]netip.Addr
	// Timeout per upstream attempt; zero means 5 s.
	Timeout time.Duration
	// Events receives one event.DNS per answered query; nil drops them.
	Events event.Handler
	// Exchange sends a query upstream; nil uses miekg/dns's client over
	// network ("udp" or "tcp"). It is the seam for tests.
	Exchange func(ctx context.Context, q *mdns.Msg, network, server string) (*mdns.Msg, error)
	// Allow decides whether a query for name (lower-case, no final dot)
	// may be answered: when it says no, the answer is REFUSED and the
	// query goes nowhere — not upstream, not to the hosts file. rule says
	// why, for the event. nil allows every name.
	Allow func(name string, server netip.AddrPort, transport event.Proto, proc *event.Process) (ok bool, rule string)
	// Process finds the process behind a client's flow to the resolver
	// (client is the box's side); nil looks nothing up.
	Process func(proto event.Proto, client, server netip.AddrPort) *event.Process
}

// Resolver answers DNS queries. It is safe for concurrent use.
type Resolver struct {
	cfg    Config
	hosts  *hosts
	static *hosts

	mu    sync.Mutex
	names map[netip.Addr]string
	seen  map[nameAddr]struct{} // every name → address answered
	known map[string]struct{}   // every name answered with an address
}

// nameAddr is a name (lower-case FQDN with the dot) and an address it
// resolved to.
type nameAddr struct {
	name string
	addr netip.Addr
}

// maxNames bounds the address-to-name memory; when full it starts afresh.
const maxNames = 1 << 16

// New returns a Resolver for cfg.
func New(cfg Config) (*Resolver, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Events == nil {
		cfg.Events = func(event.Event) {}
	}
	if cfg.Exchange == nil {
		cfg.Exchange = exchange(cfg.Timeout)
	}
	h, err := loadHosts(cfg.HostsFile)
	if err != nil {
		return nil, fmt.Errorf("read hosts file: %w", err)
	}
	st, _ := loadHosts("")
	for name, addrs := range cfg.Static {
		for _, a := range addrs {
			st.add(name, a, true)
		}
	}
	return &Resolver{cfg: cfg, hosts: h, static: st, names: map[netip.Addr]string{},
		seen: map[nameAddr]struct{}{}, known: map[string]struct{}{}}, nil
}

func exchange(timeout time.Duration) func(context.Context, *mdns.Msg, string, string) (*mdns.Msg, error) {
	return func(ctx context.Context, q *mdns.Msg, network, server string) (*mdns.Msg, error) {
		c := &mdns.Client{Net: network, Timeout: timeout}
		if network == "udp" {
			c.UDPSize = mdns.MaxMsgSize // never truncate here what upstream sent whole
		}
		r, _, err := c.ExchangeContext(ctx, q, server)
		if err != nil && r != nil && r.Truncated {
			// A server may cut a UDP answer inside a record; what matters
			// is the TC bit, which sends the client to TCP.
			return r, nil
		}
		return r, err
	}
}

// Name returns the name the command last resolved to addr, without the
// final dot; failing that, the address's name in the hosts file (which
// the command's libc reads itself, without asking the resolver); or "".
func (r *Resolver) Name(addr netip.Addr) string {
	addr = addr.Unmap()
	r.mu.Lock()
	name := r.names[addr]
	r.mu.Unlock()
	if name == "" {
		if rev, err := mdns.ReverseAddr(addr.String()); err == nil {
			name = r.hosts.byPTR[rev]
		}
	}
	return strings.TrimSuffix(name, ".")
}

// Resolved says whether the command resolved name (any case, final dot or
// not) to addr — through this resolver or by the hosts file — so that a
// TLS or HTTP name can be checked against the connection it came on.
func (r *Resolver) Resolved(name string, addr netip.Addr) bool {
	fq := mdns.Fqdn(strings.ToLower(name))
	addr = addr.Unmap()
	r.mu.Lock()
	_, ok := r.seen[nameAddr{fq, addr}]
	r.mu.Unlock()
	if ok {
		return true
	}
	for _, h := range []*hosts{r.hosts, r.static} {
		for _, a := range h.byName[fq] {
			if a.Unmap() == addr {
				return true
			}
		}
	}
	return false
}

// Known says whether the command resolved name (any case, final dot or
// not) to some address — through this resolver or by the hosts file — so
// that a name never looked up through htapod (a client told its address,
// as curl's --resolve) is not taken for one that resolved elsewhere.
func (r *Resolver) Known(name string) bool {
	fq := mdns.Fqdn(strings.ToLower(name))
	r.mu.Lock()
	_, ok := r.known[fq]
	r.mu.Unlock()
	return ok || len(r.hosts.byName[fq]) > 0 || len(r.static.byName[fq]) > 0
}

// Answer resolves one query message. It never returns nil for a query it
// could parse; it returns nil (drop) only for bytes that are not DNS.
func (r *Resolver) Answer(ctx context.Context, query []byte, transport event.Proto, server netip.AddrPort) []byte {
	return r.answer(ctx, query, transport, server, nil)
}

// answer is Answer for a client whose process is known (or nil).
func (r *Resolver) answer(ctx context.Context, query []byte, transport event.Proto, server netip.AddrPort, proc *event.Process) []byte {
	start := time.Now()
	q := new(mdns.Msg)
	if err := q.Unpack(query); err != nil {
		if len(query) < 12 {
			return nil
		}
		// Answer FORMERR with the client's ID, as a server would.
		m := new(mdns.Msg)
		m.Id = uint16(query[0])<<8 | uint16(query[1])
		m.Response, m.Rcode = true, mdns.RcodeFormatError
		out, _ := m.Pack()
		return out
	}
	ev := &event.DNS{Server: server, Transport: transport, Start: start, Process: proc}
	if len(q.Question) > 0 {
		ev.Name = strings.TrimSuffix(q.Question[0].Name, ".")
		ev.Type = mdns.TypeToString[q.Question[0].Qtype]
	}
	resp, source, err := r.refuse(q, ev.Name, transport, server, proc)
	if resp == nil {
		resp, source, err = r.resolve(ctx, q, string(transport))
	}
	ev.Source = source
	if err != nil {
		ev.Err = err.Error()
	}
	ev.Rcode = mdns.RcodeToString[resp.Rcode]
	ev.Truncated = resp.Truncated
	for _, rr := range resp.Answer {
		ev.Answers = append(ev.Answers, rdata(rr))
	}
	r.remember(q, resp)
	out, perr := resp.Pack()
	if perr != nil {
		m := new(mdns.Msg)
		m.SetRcode(q, mdns.RcodeServerFailure)
		out, _ = m.Pack()
		ev.Rcode, ev.Err = "SERVFAIL", "pack answer: "+perr.Error()
	}
	ev.Duration = time.Since(start)
	r.cfg.Events(ev)
	return out
}

// refuse answers REFUSED (RFC 1035 §4.1.1: "the name server refuses to
// perform the specified operation for policy reasons") when Allow denies
// the name, and returns nil otherwise.
func (r *Resolver) refuse(q *mdns.Msg, name string, transport event.Proto, server netip.AddrPort, proc *event.Process) (*mdns.Msg, string, error) {
	if r.cfg.Allow == nil || len(q.Question) == 0 {
		return nil, "", nil
	}
	ok, rule := r.cfg.Allow(strings.ToLower(name), server, transport, proc)
	if ok {
		return nil, "", nil
	}
	m := new(mdns.Msg)
	m.SetRcode(q, mdns.RcodeRefused)
	m.RecursionAvailable = true
	return m, "policy", fmt.Errorf("denied by %s", rule)
}

// resolve answers q locally when it can, else forwards it. On total
// failure it returns a SERVFAIL answer and the error.
func (r *Resolver) resolve(ctx context.Context, q *mdns.Msg, network string) (*mdns.Msg, string, error) {
	if m := r.local(q, r.static); m != nil {
		return m, "htapod", nil
	}
	if m := r.local(q, r.hosts); m != nil {
		return m, "hosts", nil
	}
	var errs []error
	for _, s := range r.cfg.Servers {
		m, err := r.cfg.Exchange(ctx, q, network, s)
		if err == nil && m != nil {
			m.Id = q.Id
			return m, s, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", s, err))
	}
	if len(r.cfg.Servers) == 0 {
		errs = append(errs, errors.New("no upstream nameserver configured on the host"))
	}
	m := new(mdns.Msg)
	m.SetRcode(q, mdns.RcodeServerFailure)
	m.RecursionAvailable = true
	return m, "", errors.Join(errs...)
}

// local answers A, AAAA and PTR queries for names in table h, or returns
// nil when h does not know the name.
func (r *Resolver) local(q *mdns.Msg, h *hosts) *mdns.Msg {
	if len(q.Question) != 1 || q.Opcode != mdns.OpcodeQuery {
		return nil
	}
	qq := q.Question[0]
	name := strings.ToLower(qq.Name)
	m := new(mdns.Msg)
	m.SetReply(q)
	m.RecursionAvailable = true
	const ttl = 60
	if qq.Qtype == mdns.TypePTR {
		host, ok := h.byPTR[name]
		if !ok {
			return nil
		}
		m.Answer = append(m.Answer, &mdns.PTR{Hdr: hdr(qq.Name, mdns.TypePTR, ttl), Ptr: host})
		return m
	}
	addrs, ok := h.byName[name]
	if !ok {
		return nil
	}
	for _, a := range addrs {
		switch {
		case a.Is4() && (qq.Qtype == mdns.TypeA || qq.Qtype == mdns.TypeANY):
			m.Answer = append(m.Answer, &mdns.A{Hdr: hdr(qq.Name, mdns.TypeA, ttl), A: a.AsSlice()})
		case a.Is6() && (qq.Qtype == mdns.TypeAAAA || qq.Qtype == mdns.TypeANY):
			m.Answer = append(m.Answer, &mdns.AAAA{Hdr: hdr(qq.Name, mdns.TypeAAAA, ttl), AAAA: a.AsSlice()})
		}
	}
	// A known name without records of the asked type is NOERROR with no
	// answers (NODATA), as for the hosts file in libc.
	return m
}

func hdr(name string, t uint16, ttl uint32) mdns.RR_Header {
	return mdns.RR_Header{Name: name, Rrtype: t, Class: mdns.ClassINET, Ttl: ttl}
}

// remember records which name the addresses in resp's answers belong to.
func (r *Resolver) remember(q *mdns.Msg, resp *mdns.Msg) {
	if len(q.Question) == 0 {
		return
	}
	name := strings.ToLower(q.Question[0].Name)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rr := range resp.Answer {
		var ip net.IP
		switch rr := rr.(type) {
		case *mdns.A:
			ip = rr.A
		case *mdns.AAAA:
			ip = rr.AAAA
		default:
			continue
		}
		if a, ok := netip.AddrFromSlice(ip); ok {
			if len(r.names) >= maxNames || len(r.seen) >= maxNames {
				clear(r.names)
				clear(r.seen)
				clear(r.known)
			}
			r.names[a.Unmap()] = name
			r.seen[nameAddr{name, a.Unmap()}] = struct{}{}
			r.known[name] = struct{}{}
		}
	}
}

// rdata is the presentation form of rr's data ("203.0.113.10").
func rdata(rr mdns.RR) string {
	s := rr.String()
	h := rr.Header().String()
	return strings.TrimPrefix(s, h)
}
