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
	"github.com/htapod/htapod/policy"
	"github.com/htapod/htapod/respond"
	"github.com/htapod/htapod/route"
	"github.com/htapod/htapod/sink"
	"github.com/htapod/htapod/sink/har"
	"github.com/htapod/htapod/sink/jsonl"
	"github.com/htapod/htapod/sink/pcapng"
	"github.com/htapod/htapod/sink/redact"
	"github.com/htapod/htapod/sink/text"
)

// Option configures a Runner.
type Option func(*config)

type config struct {
	namespaces Namespaces
	root       bool
	waitAll    bool
	procs      int
	stdin      *os.File
	stdout     *os.File
	stderr     *os.File
	env        []string
	logger     *slog.Logger

	tcpSniff  []TCPSniffer
	udpSniff  []UDPSniffer
	tcpRouter route.Router
	udpRouter route.Router
	rules     []route.Rule
	hostMaps  []netip.Addr

	intercept   bool
	authority   *Authority
	upstreamCAs []*x509.Certificate
	insecure    bool
	keyLog      io.Writer
	passthrough []string
	dissect     dissect.Options

	filter   *filter.Filter
	report   io.Writer
	reportOp text.Options
	pcap     *pcapng.Writer
	sinks    []namedSink     // filtered outputs: JSON, HAR, the user's
	handlers []event.Handler // every event

	enforce enforceConfig // the policy, the process lookup (enforce.go)
	act     actConfig
	// keepSecrets and redactor: see WithSecrets and WithRedaction (act.go).
	keepSecrets bool
	redactor    *redact.Redactor
}

type namedSink struct {
	name string
	s    sink.Sink
	file bool // a JSON or HAR file: redacted unless secrets are kept
}

// The box.

// WithNamespaces chooses the box's namespaces (default DefaultNamespaces).
// The network namespace is required. Without the user namespace htapod
// must run as root (the command then runs as root). Without the mount
// namespace the box keeps the host's resolv.conf and CA bundles: DNS is
// not answered by htapod, and TLS interception is off.
func WithNamespaces(ns Namespaces) Option { return func(c *config) { c.namespaces = ns } }

// WithRoot runs the command as uid 0 inside the box instead of as the
// invoking user.
func WithRoot(on bool) Option { return func(c *config) { c.root = on } }

// WithWaitAll keeps htapod relaying after the command exited until every
// process it left in the box (a daemon, a background job) has exited too;
// htapod's signals then go to all of them. Without it, htapod ends when
// the command does, and what it left behind loses its network.
func WithWaitAll(on bool) Option { return func(c *config) { c.waitAll = on } }

// WithGOMAXPROCS runs htapod's goroutines on n Ps while the command runs
// and the load allows: every 100 ms it looks how long runnable goroutines
// waited for a P, and uses every P (runtime.GOMAXPROCS's value at the
// start) while they wait too long. At the command's exit it sets
// GOMAXPROCS back. 0, the default, leaves it alone. The setting is the
// whole program's: use it only when nothing else in the program needs the
// CPUs meanwhile. htapod's CLI gives n = half the CPUs (internal/procs
// says why).
func WithGOMAXPROCS(n int) Option { return func(c *config) { c.procs = n } }

// WithStdio sets the command's standard files (default: htapod's own).
func WithStdio(stdin, stdout, stderr *os.File) Option {
	return func(c *config) { c.stdin, c.stdout, c.stderr = stdin, stdout, stderr }
}

// WithEnv sets the command's environment (default: htapod's own).
func WithEnv(env []string) Option { return func(c *config) { c.env = env } }

// WithLogger receives htapod's diagnostics (default: none).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// Routing.

// WithTCPRouter sets the router of TCP flows (nil keeps the default:
// route.ByPort(route.ForwardWithTLS), or route.Forward everywhere when
// interception is off). htapod's own routes come first: its DNS resolver,
// then WithHostMap and WithMapping.
func WithTCPRouter(r route.Router) Option { return func(c *config) { c.tcpRouter = r } }

// WithUDPRouter sets the router of UDP flows, as WithTCPRouter does for
// TCP.
func WithUDPRouter(r route.Router) Option { return func(c *config) { c.udpRouter = r } }

// WithHostMap makes the inner address addr reach the host's loopback on
// the same port (127.0.0.1 for an IPv4 addr, ::1 for IPv6), and the name
// HostName resolve to addr. Reaching the host's local services is a
// privilege: it is off unless asked for. May be given more than once.
func WithHostMap(addr netip.Addr) Option {
	return func(c *config) { c.hostMaps = append(c.hostMaps, addr.Unmap()) }
}

// WithMapping rewrites destinations matching rule.From to rule.To (see
// route.Rule). May be given more than once.
func WithMapping(rule route.Rule) Option { return func(c *config) { c.rules = append(c.rules, rule) } }

// Content.

// WithTCPSniffer adds a sniffer of TCP flows' content (nil adds none).
// May be given more than once.
func WithTCPSniffer(s TCPSniffer) Option {
	return func(c *config) {
		if s != nil {
			c.tcpSniff = append(c.tcpSniff, s)
		}
	}
}

// WithUDPSniffer adds a sniffer of UDP flows' datagrams (nil adds none).
// May be given more than once.
func WithUDPSniffer(s UDPSniffer) Option {
	return func(c *config) {
		if s != nil {
			c.udpSniff = append(c.udpSniff, s)
		}
	}
}

// WithBodyLimit sets how many decoded body bytes an event carries (the
// rest is counted); 0 means dissect.DefaultBodyLimit, negative none.
func WithBodyLimit(n int) Option { return func(c *config) { c.dissect.BodyLimit = n } }

// TLS.

// WithInterception turns TLS interception on or off (default on). Off,
// TLS flows are relayed untouched and reported by their ClientHello.
func WithInterception(on bool) Option { return func(c *config) { c.intercept = on } }

// WithAuthority signs the leaf certificates with a CA the caller keeps
// (see LoadAuthority), instead of a fresh per-run CA.
func WithAuthority(a *Authority) Option { return func(c *config) { c.authority = a } }

// WithUpstreamCAs adds CAs that real servers may chain to, besides the
// host's system roots.
func WithUpstreamCAs(certs ...*x509.Certificate) Option {
	return func(c *config) { c.upstreamCAs = append(c.upstreamCAs, certs...) }
}

// WithInsecureUpstream skips verification of the real servers'
// certificates (default: verified).
func WithInsecureUpstream(on bool) Option { return func(c *config) { c.insecure = on } }

// WithKeyLog writes the TLS secrets of both legs of every intercepted
// flow to w, in the NSS key log format that Wireshark reads.
func WithKeyLog(w io.Writer) Option { return func(c *config) { c.keyLog = w } }

// WithPassthrough relays TLS flows to server names matching any pattern
// untouched (still reported by SNI and bytes). Patterns are host globs:
// "*.pinned.test", "api.example.com" (see ValidPattern).
func WithPassthrough(patterns ...string) Option {
	return func(c *config) { c.passthrough = append(c.passthrough, patterns...) }
}

// Outputs. Each is a sink.Sink: Run hands it the events the filter
// selected, flushes it on one clock and on SIGINT, SIGTERM and SIGHUP,
// closes it at the end, and returns an OutputError when it could not be
// completed.

// WithSink adds an output of the caller's own. Run closes it.
func WithSink(s sink.Sink) Option {
	return func(c *config) { c.sinks = append(c.sinks, namedSink{name: sinkName(s), s: s}) }
}

// WithFilter keeps only what f selects in every output (see
// filter.Selector: each exchange is kept or left out by its own events; a
// flow's own events are kept when any event of the flow was). Event
// handlers (WithEventHandler) see everything.
func WithFilter(f *filter.Filter) Option { return func(c *config) { c.filter = f } }

// WithReport writes a human line per event to w (nil: no report). A w
// with a Flush method (a *bufio.Writer) is flushed on the run's clock.
func WithReport(w io.Writer) Option { return func(c *config) { c.report = w } }

// WithReportOptions sets how much the human report shows (headers, bodies,
// every flow) and whether it is coloured.
func WithReportOptions(o text.Options) Option { return func(c *config) { c.reportOp = o } }

// WithJSON writes every event as a JSON line to w (see docs/json.md). A w
// with a Flush method is flushed on the run's clock. The caller closes w
// after Run.
func WithJSON(w io.Writer) Option {
	return func(c *config) { c.sinks = append(c.sinks, namedSink{"JSON lines", jsonl.New(w), true}) }
}

// WithHAR adds every finished HTTP exchange to w, which Run flushes every
// two seconds and on signals (so the file on disk stays a valid HAR) and
// closes at the end.
func WithHAR(w *har.Writer) Option {
	return func(c *config) { c.sinks = append(c.sinks, namedSink{"HAR file " + w.Path(), w, true}) }
}

// WithPcap writes every packet of the command's network to p, with the
// TLS secrets of the command's leg of intercepted connections (so tshark
// and Wireshark decrypt it from the file alone). With a filter, it keeps
// the whole flows that had a selected event. Run flushes p every second
// and closes it at the end.
func WithPcap(p *pcapng.Writer) Option { return func(c *config) { c.pcap = p } }

// WithEventHandler calls h for every event, whatever the filter says. h
// is called from the relay's goroutines, concurrently, and must not block
// for long. May be given more than once.
func WithEventHandler(h event.Handler) Option {
	return func(c *config) { c.handlers = append(c.handlers, h) }
}

// The policy (see package policy and docs/policy.md).

// PolicyOptions say how WithPolicy applies its policy.
type PolicyOptions struct {
	// Audit applies nothing: every flow goes on, and what the policy
	// would deny is reported all the same (event.Policy with Audit set).
	Audit bool
	// DenyFronting denies a TLS server name or HTTP Host that did not
	// resolve to the flow's address when the command resolved the address
	// for another name or the name to other addresses (domain fronting;
	// a name never looked up through htapod is not); without it such a
	// name is only reported.
	DenyFronting bool
}

// WithPolicy applies p to every flow of the command, decided wherever a
// name appears (see package policy): a denied connection is refused (TCP:
// ECONNREFUSED; UDP: an ICMP port unreachable), a denied TLS server name
// fails the handshake with an alert, and a query to htapod's resolver for
// a denied name is answered REFUSED and goes nowhere. Each denial is an
// event.Policy; policy.Report collects them for the end of the run. The
// policy comes after htapod's resolver and before WithHostMap and WithMapping
// rules: it judges the destination the command asked for.
func WithPolicy(p *policy.Policy, o PolicyOptions) Option {
	return func(c *config) { c.enforce.policy, c.enforce.opts = p, o }
}

// WithProcesses turns on or off (default on) finding the process behind
// each flow and each query to htapod's resolver (event.Process on flows,
// DNS and HTTP events, and on route.Flow for a router). It costs one
// sock_diag request and a look at the box's processes' file descriptors
// per new socket.
func WithProcesses(on bool) Option { return func(c *config) { c.enforce.noProcesses = !on } }

// Acting on requests (see package respond and docs/replay.md; the
// machinery is in act.go).

// WithMock answers the HTTP requests that match a rule's filter with its
// response, instead of the server (see respond.ParseMock). Other requests
// flow as usual. Rules are tried in order; the first match answers.
func WithMock(rules ...respond.Rule) Option {
	return func(c *config) { c.act.rules = append(c.act.rules, rules...) }
}

// WithFault disturbs the HTTP exchanges that match a rule's filter (see
// respond.ParseFault): delays, resets, error statuses, silence, a slow
// line. The first matching fault rule applies.
func WithFault(rules ...respond.Rule) Option {
	return func(c *config) { c.act.rules = append(c.act.rules, rules...) }
}

// WithReplay answers HTTP requests from a recording (see
// respond.LoadReplay): names in it resolve in the box, and unless the
// replay forwards misses, no flow leaves the machine — TCP flows are
// served by htapod itself (TLS with its minted leaf), UDP flows other
// than DNS to htapod are refused, and names not in the recording do not
// resolve.
func WithReplay(rp *respond.Replay) Option { return func(c *config) { c.act.replay = rp } }

// WithResponder puts every HTTP request of the command to d, a Go
// program's own responder: it may answer the request, disturb it, or
// forward it (the zero Decision). Mock and fault rules are asked first; a
// replay after d when d forwards without an Action.
func WithResponder(d respond.Decider) Option { return func(c *config) { c.act.responder = d } }

// WithFlowResponder is WithResponder with the flow: fn is called once per
// relayed TCP flow (addresses, the name the command resolved), and the
// Decider it returns (nil: none) is asked first for each of the flow's
// requests — before mocks, faults, WithResponder and a replay. It is the
// hook for per-request decisions that depend on the connection, such as an
// egress policy's verdict on a Host that the connection's address does not
// allow.
func WithFlowResponder(fn func(route.Flow) respond.Decider) Option {
	return func(c *config) { c.act.perFlow = append(c.act.perFlow, fn) }
}

// WithSecrets(true) writes cookies and credentials into the JSON and HAR
// outputs as they were sent. By default those files are sanitized (see
// package sink/redact): they end up in bug reports. The human report and
// the caller's own sinks are never redacted.
func WithSecrets(keep bool) Option { return func(c *config) { c.keepSecrets = keep } }

// WithRedaction sanitizes more of the JSON and HAR outputs: header fields,
// query parameters, body regexes (see redact.New for the patterns).
func WithRedaction(r *redact.Redactor) Option { return func(c *config) { c.redactor = r } }
