// Command htapod wraps a command and shows everything it says on the
// network, without root. This file only parses flags and calls the
// library; see package htapod.
package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	flag "github.com/spf13/pflag"

	"github.com/htapod/htapod"
	"github.com/htapod/htapod/filter"
	"github.com/htapod/htapod/internal/lineout"
	"github.com/htapod/htapod/route"
	"github.com/htapod/htapod/sink/text"
)

const usage = `htapod — see what a command says on the network, without root.

Usage:
  htapod [flags] [--] [command [args...]]
  htapod doctor        check that this machine can run htapod
  htapod demo          a self-contained demonstration (no internet needed)
  htapod ca create DIR make a CA to keep (for browsers with their own stores)

Examples:
  htapod -- curl -s http://example.com/           one line per connection
  htapod -- dig +short example.com                DNS through htapod's resolver
  htapod -o net.log -- ./install.sh               report to a file, not stderr
  htapod --map-host 10.10.10.10 -- curl http://10.10.10.10:8080/
                                                  reach the host's 127.0.0.1:8080
  htapod --map 192.0.2.1:443=127.0.0.1:8443 -- ./client
                                                  send one destination elsewhere
  htapod -- curl -s https://example.com/          TLS is intercepted: the command trusts
                                                  htapod's per-run CA without being told
  htapod --keylog keys.txt -- ./app               TLS secrets for Wireshark
  htapod --passthrough '*.pinned.test' -- ./app   leave pinned hosts' TLS alone
  htapod --json -o events.jsonl -- ./tests.sh     one JSON object per event
  htapod --har run.har -- npm ci                  HTTP exchanges for browser dev tools
  htapod --pcap run.pcapng -- curl https://x/     packets + TLS secrets: tshark -r run.pcapng
  htapod --grep 'token=[A-Za-z0-9]+' -- ./app     only exchanges that match, match highlighted
  htapod --filter '~d api & ~m POST & !~c 2..' -- ./app
  htapod --summary -- pip download requests      the hosts contacted, at exit
  htapod --allow '*.npmjs.org' -- npm ci          allow these names only; the rest fails at once
  htapod --audit --allow '*.lab.test' -- ./ci.sh  deny nothing, report what would be denied
  htapod --learn policy.txt -- npm ci             write what it contacted; then --policy policy.txt
  htapod --replay run.har -- ./tests.sh           answer from a recorded --har run, offline
  htapod --mock '~u /api/users=200:@users.json' -- ./app
                                                  answer one URL, the rest flows (docs/replay.md)
  htapod --fault '~d api.example.com=delay:2s' -- ./app   also reset, status:N, timeout, throttle:64k
  htapod                                          a shell ($SHELL) in the box

The command sees the network as usual. htapod's report goes to stderr (or
-o FILE); the exit status is the command's (128+N when signal N killed it),
or 125 when htapod itself failed or when the command succeeded but an output
(report file, JSON, HAR, pcapng) could not be completed, a full disk say;
2 for bad flags or a bad policy file; 3 when the command succeeded but the
policy denied something (or would have, with --audit).

Flags:
`

func main() {
	htapod.Init()
	startGCHeadroom()
	os.Exit(run(os.Args[1:]))
}

type options struct {
	output      string
	mapHost     []string
	maps        []string
	root        bool
	help        bool
	noIntercept bool
	upstreamCA  []string
	insecure    bool
	keylog      string
	passthrough []string
	caCert      string
	caKey       string
	bodyLimit   int
	verbose     bool
	headers     bool
	bodies      bool
	color       string
	pcap        string
	snapLen     int
	summary     string
	waitAll     bool
	json        bool
	har         string
	filter      string
	grep        string
	pol         policyFlags
	act         actFlags // mocks, faults, replay, redaction (act.go)
}

func run(args []string) int {
	var o options
	fs := o.flagSet()
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(os.Stderr, "htapod: %v\nTry 'htapod --help'.\n", err)
		return 2
	}
	if o.help {
		fs.Usage()
		return 0
	}
	argv := fs.Args()
	if len(argv) > 0 && fs.ArgsLenAtDash() != 0 {
		if code, ok := subcommand(argv); ok {
			return code
		}
	}
	if len(argv) == 0 {
		shell := os.Getenv("SHELL")
		if shell == "" {
			shell = "/bin/sh"
		}
		argv = []string{shell}
	}
	opts, err := o.libOptions()
	if err != nil {
		fmt.Fprintf(os.Stderr, "htapod: %v\nTry 'htapod --help'.\n", err)
		return 2
	}
	return o.runCommand(opts, argv)
}

// subcommand runs argv when its first word names one of htapod's own
// commands.
func subcommand(argv []string) (code int, ok bool) {
	switch argv[0] {
	case "doctor":
		return doctor(os.Stdout), true
	case "demo":
		return demo(os.Stderr), true
	case "ca":
		return caCommand(argv[1:]), true
	case fetchCmd:
		if len(argv) == 2 {
			return fetch(argv[1]), true
		}
	}
	return 0, false
}

// flagSet defines htapod's flags into o.
func (o *options) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("htapod", flag.ContinueOnError)
	fs.SetInterspersed(false) // the first non-flag word starts the command
	fs.StringVarP(&o.output, "output", "o", "", "write the report to `FILE` instead of stderr")
	fs.StringArrayVar(&o.mapHost, "map-host", nil, "make inner `ADDR` reach the host's loopback (and "+htapod.HostName+" resolve to it)")
	fs.StringArrayVar(&o.maps, "map", nil, "rewrite a destination: `FROM=TO`, each an IP or IP:PORT")
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "show every flow and TLS details")
	fs.BoolVarP(&o.headers, "headers", "H", false, "show HTTP headers")
	fs.BoolVarP(&o.bodies, "bodies", "b", false, "show HTTP bodies (decoded) and WebSocket text")
	fs.StringVar(&o.color, "color", "auto", "colour the report `WHEN`: auto, always or never")
	fs.BoolVar(&o.json, "json", false, "write the report as JSON lines (one object per event, see docs/json.md)")
	fs.StringVar(&o.har, "har", "", "write the HTTP exchanges to HAR `FILE` (opens in browser dev tools)")
	fs.StringVar(&o.filter, "filter", "", "keep only what matches `EXPR` ('~d api.example.com & ~m POST & !~c 2..')")
	fs.StringVar(&o.grep, "grep", "", "keep only exchanges whose URL, headers, bodies… match `REGEX` (highlighted)")
	fs.StringVar(&o.pcap, "pcap", "", "write the packets to pcapng `FILE`, TLS secrets included")
	fs.IntVar(&o.snapLen, "snaplen", 0, "with --pcap, keep at most `N` bytes of each packet (0: all)")
	fs.StringVar(&o.summary, "summary", "auto", "at exit, a table of the hosts contacted, `WHEN`: auto (on a terminal, after more than 5 flows), always or never")
	fs.Lookup("summary").NoOptDefVal = "always"
	fs.BoolVar(&o.waitAll, "wait-all", false, "after the command exits, keep going until every process it left in the box has exited")
	fs.BoolVar(&o.root, "root", false, "run the command as uid 0 inside the box")
	fs.BoolVar(&o.noIntercept, "no-intercept", false, "relay TLS untouched (report SNI and bytes only)")
	fs.StringArrayVar(&o.upstreamCA, "upstream-ca", nil, "also trust the CA certificates in PEM `FILE` for real servers")
	fs.BoolVarP(&o.insecure, "insecure", "k", false, "do not verify real servers' certificates")
	fs.StringVar(&o.keylog, "keylog", "", "append TLS secrets of both legs to `FILE` (NSS key log, for Wireshark)")
	fs.StringArrayVar(&o.passthrough, "passthrough", nil, "relay TLS to hosts matching `GLOB` untouched (e.g. '*.pinned.test')")
	fs.StringVar(&o.caCert, "ca-cert", "", "sign with the CA certificate in `FILE` (with --ca-key) instead of a per-run CA")
	fs.StringVar(&o.caKey, "ca-key", "", "the key of --ca-cert, PEM `FILE`")
	fs.IntVar(&o.bodyLimit, "body-limit", 0, "keep at most `N` decoded body bytes per message (default 64 KiB when -b, --json, --har, --grep or a body filter shows them, else none)")
	o.pol.register(fs)
	o.act.register(fs)
	fs.BoolVarP(&o.help, "help", "h", false, "show this help")
	fs.Usage = func() {
		fmt.Fprint(os.Stderr, usage)
		fmt.Fprint(os.Stderr, flagUsages(fs))
	}
	return fs
}

// wantSummary decides whether the exit summary is printed.
func (o *options) wantSummary(flows int) bool {
	switch o.summary {
	case "always":
		return true
	case "never":
		return false
	}
	return flows > 5 && o.output == "" && lineout.IsTerminal(os.Stderr)
}

// useColor decides colours: on a terminal unless NO_COLOR is set.
func (o *options) useColor() bool {
	switch o.color {
	case "always":
		return true
	case "never":
		return false
	}
	if o.output != "" || os.Getenv("NO_COLOR") != "" {
		return false
	}
	return lineout.IsTerminal(os.Stderr)
}

// keptBodies is the body limit: --body-limit, or, when no output shows or
// matches body bytes (-b, --json, --har, --grep, a filter on bodies),
// none at all: the dissectors then only count bodies (and skip the
// copies of them, see dissect.Skipper).
func (o *options) keptBodies(f *filter.Filter) int {
	if o.bodyLimit != 0 || o.bodies || o.json || o.har != "" || f.ReadsBodies() {
		return o.bodyLimit
	}
	return -1
}

// libOptions turns the flags into library options; the output files are
// opened by openOutputs.
func (o *options) libOptions() ([]htapod.Option, error) {
	opts := []htapod.Option{htapod.WithRoot(o.root), htapod.WithWaitAll(o.waitAll),
		htapod.WithInterception(!o.noIntercept), htapod.WithInsecureUpstream(o.insecure),
		htapod.WithReportOptions(text.Options{Verbose: o.verbose, Headers: o.headers, Bodies: o.bodies, Color: o.useColor()})}
	if o.insecure && !o.noIntercept {
		fmt.Fprintln(os.Stderr, "htapod: warning: --insecure: real servers' certificates are not verified")
	}
	for _, f := range o.upstreamCA {
		certs, err := readCerts(f)
		if err != nil {
			return nil, fmt.Errorf("--upstream-ca: %v", err)
		}
		opts = append(opts, htapod.WithUpstreamCAs(certs...))
	}
	var filters []*filter.Filter
	if o.filter != "" {
		f, err := filter.Parse(o.filter)
		if err != nil {
			return nil, err // the error names --filter and points at the column
		}
		filters = append(filters, f)
	}
	if o.grep != "" {
		f, err := filter.Grep(o.grep)
		if err != nil {
			return nil, err
		}
		filters = append(filters, f)
	}
	var all *filter.Filter
	if len(filters) > 0 {
		all = filter.And(filters...)
		opts = append(opts, htapod.WithFilter(all))
	}
	opts = append(opts, htapod.WithBodyLimit(o.keptBodies(all)))
	for _, p := range o.passthrough {
		if err := htapod.ValidPattern(p); err != nil {
			return nil, fmt.Errorf("--passthrough: %v", err)
		}
	}
	opts = append(opts, htapod.WithPassthrough(o.passthrough...))
	if (o.caCert == "") != (o.caKey == "") {
		return nil, fmt.Errorf("--ca-cert and --ca-key go together")
	}
	if o.caCert != "" {
		a, err := htapod.LoadAuthority(o.caCert, o.caKey)
		if err != nil {
			return nil, err
		}
		opts = append(opts, htapod.WithAuthority(a))
	}
	popts, err := o.pol.options()
	if err != nil {
		return nil, err
	}
	opts = append(opts, popts...)
	for _, s := range o.mapHost {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("--map-host %q: not an IP address", s)
		}
		opts = append(opts, htapod.WithHostMap(a))
	}
	for _, s := range o.maps {
		rule, err := parseMap(s)
		if err != nil {
			return nil, err
		}
		opts = append(opts, htapod.WithMapping(rule))
	}
	act, err := o.act.options() // mocks, faults, replay, redaction
	if err != nil {
		return nil, err
	}
	return append(opts, act...), nil
}

// parseMap reads FROM=TO, each an IP or IP:PORT ([v6]:port).
func parseMap(s string) (route.Rule, error) {
	from, to, ok := strings.Cut(s, "=")
	if !ok {
		return route.Rule{}, fmt.Errorf("--map %q: want FROM=TO, e.g. 192.0.2.1:443=127.0.0.1:8443", s)
	}
	f, err := parseAddrPort(from)
	if err != nil {
		return route.Rule{}, fmt.Errorf("--map %q: %v", s, err)
	}
	t, err := parseAddrPort(to)
	if err != nil {
		return route.Rule{}, fmt.Errorf("--map %q: %v", s, err)
	}
	return route.Rule{From: f, To: t}, nil
}

func parseAddrPort(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q is not an IP or IP:PORT", s)
	}
	return netip.AddrPortFrom(a.Unmap(), 0), nil
}

// reportFailure prints htapod's own failure and, when known, what to do.
func reportFailure(err error) {
	fmt.Fprintf(os.Stderr, "htapod: %v\n", err)
	if hint := htapod.Hint(err); hint != "" {
		fmt.Fprintf(os.Stderr, "  %s\n", hint)
	}
}
