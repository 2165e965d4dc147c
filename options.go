package htapod

import (
	"crypto/x509"
	"io"
	"log/slog"
	"net/netip"
	"os"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/filter"
	"github.com/htapod/htapod/route"
	"github.com/htapod/htapod/sink/har"
	"github.com/htapod/htapod/sink/jsonl"
	"github.com/htapod/htapod/sink/pcapng"
	"github.com/htapod/htapod/sink/text"
)

// Option configures a Runner.
type Option func(*config)

type config struct {
	waitAll bool
	filter  *filter.Filter
	sinks   []event.Handler // filtered outputs: JSON, HAR

	namespaces Namespaces
	tcpSniff   []TCPSniffer
	udpSniff   []UDPSniffer
	tcpRouter  route.Router
	udpRouter  route.Router

	intercept   bool
	authority   *Authority
	upstreamCAs []*x509.Certificate
	insecure    bool
	keyLog      io.Writer
	passthrough []string
	dissect     dissect.Options

	report   io.Writer
	reportOp text.Options
	pcap     *pcapng.Writer
	handlers []event.Handler
	rules    []route.Rule
	hostMaps []netip.Addr
	root     bool
	stdin    *os.File
	stdout   *os.File
	stderr   *os.File
	env      []string
	logger   *slog.Logger
}

// InterceptTLS turns TLS interception on or off (default on). Off, TLS
// flows are relayed untouched and reported by their ClientHello.
func InterceptTLS(on bool) Option { return func(c *config) { c.intercept = on } }

// WithAuthority signs the leaf certificates with a CA the caller keeps
// (see tlsmitm.LoadAuthority), instead of a fresh per-run CA.
func WithAuthority(a *Authority) Option { return func(c *config) { c.authority = a } }

// TrustUpstream adds CAs that real servers may chain to, besides the
// host's system roots.
func TrustUpstream(certs ...*x509.Certificate) Option {
	return func(c *config) { c.upstreamCAs = append(c.upstreamCAs, certs...) }
}

// InsecureUpstream skips verification of the real servers' certificates.
func InsecureUpstream(on bool) Option { return func(c *config) { c.insecure = on } }

// VerifyUpstream says whether real servers' certificates are verified
// (the default); VerifyUpstream(false) is InsecureUpstream(true).
func VerifyUpstream(on bool) Option { return InsecureUpstream(!on) }

// KeyLog writes the TLS secrets of both legs of every intercepted flow to
// w, in the NSS key log format that Wireshark reads.
func KeyLog(w io.Writer) Option { return func(c *config) { c.keyLog = w } }

// Passthrough relays TLS flows to server names matching any pattern
// untouched (still reported by SNI and bytes). Patterns are host globs:
// "*.pinned.test", "api.example.com".
func Passthrough(patterns ...string) Option {
	return func(c *config) { c.passthrough = append(c.passthrough, patterns...) }
}

// BodyLimit sets how many decoded body bytes an event carries (the rest
// is counted); 0 means dissect.DefaultBodyLimit, negative none.
func BodyLimit(n int) Option { return func(c *config) { c.dissect.BodyLimit = n } }

// WithPcap writes every packet of the command's network to p, with the
// TLS secrets of the command's leg of intercepted connections (so tshark
// and Wireshark decrypt it from the file alone). The caller closes p after
// Run.
func WithPcap(p *pcapng.Writer) Option { return func(c *config) { c.pcap = p } }

// WithJSON writes every event as a JSON line to w (see docs/json.md).
// The caller closes w after Run.
func WithJSON(w io.Writer) Option {
	return func(c *config) { c.sinks = append(c.sinks, jsonl.New(w).Handle) }
}

// WithHAR adds every finished HTTP exchange to w. The caller closes w after
// Run, which completes the file; call w.Flush from time to time (and on
// signals) to keep a valid file on disk while the command runs.
func WithHAR(w *har.Writer) Option {
	return func(c *config) { c.sinks = append(c.sinks, w.Handle) }
}

// WithReport writes a human line per event to w (nil: no report).
func WithReport(w io.Writer) Option { return func(c *config) { c.report = w } }

// WithReportOptions sets how much the human report shows (headers, bodies,
// every flow) and whether it is coloured.
func WithReportOptions(o text.Options) Option { return func(c *config) { c.reportOp = o } }

// OnEvent calls h for every event. h is called from the relay's goroutines,
// concurrently, and must not block for long. May be given more than once.
func OnEvent(h event.Handler) Option {
	return func(c *config) { c.handlers = append(c.handlers, h) }
}

// MapHost makes the inner address addr reach the host's loopback on the
// same port (127.0.0.1 for an IPv4 addr, ::1 for IPv6), and the name
// host.htapod.internal resolve to addr. Reaching the host's local services
// is a privilege: it is off unless asked for.
func MapHost(addr netip.Addr) Option {
	return func(c *config) { c.hostMaps = append(c.hostMaps, addr.Unmap()) }
}

// Map rewrites destinations matching rule.From to rule.To (see route.Rule).
func Map(rule route.Rule) Option { return func(c *config) { c.rules = append(c.rules, rule) } }

// AsRoot runs the command as uid 0 inside the box instead of as the
// invoking user.
func AsRoot(root bool) Option { return func(c *config) { c.root = root } }

// WithStdio sets the command's standard files (default: htapod's own).
func WithStdio(stdin, stdout, stderr *os.File) Option {
	return func(c *config) { c.stdin, c.stdout, c.stderr = stdin, stdout, stderr }
}

// WaitAll keeps htapod relaying after the command exited until every
// process it left in the box (a daemon, a background job) has exited too;
// htapod's signals then go to all of them. Without it, htapod ends when the
// command does, and what it left behind loses its network.
func WaitAll(on bool) Option { return func(c *config) { c.waitAll = on } }

// WithEnv sets the command's environment (default: htapod's own).
func WithEnv(env []string) Option { return func(c *config) { c.env = env } }

// WithLogger receives htapod's diagnostics (default: none).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }
