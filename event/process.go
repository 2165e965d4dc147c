package event

import (
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Process is the process behind a flow or a DNS query: the one that held
// the socket when the flow started, found in the box's /proc.
type Process struct {
	PID int
	// Exe is the path of its executable ("/usr/bin/curl").
	Exe string
	// Argv is its command line, cut to a few arguments of bounded length.
	Argv []string
	// Parents are its ancestors inside the box: the command htapod started
	// first, its direct parent last. Empty when it is the command itself.
	Parents []Ancestor
	// Err says why the process could not be found ("socket not found":
	// it had already closed the socket or exited); the other fields are
	// zero then.
	Err string
}

// Ancestor is one process in a Process's parent chain.
type Ancestor struct {
	PID  int
	Exe  string
	Argv []string
}

// Name is the executable's base name ("curl"), or "?" when unknown.
func (p *Process) Name() string {
	if p == nil || p.Exe == "" {
		return "?"
	}
	return filepath.Base(p.Exe)
}

// Chain is the process with its ancestors, in words: "npm → sh → node
// install.js" (ancestors by the name they were started as, the process by
// its command line), or the reason it is unknown.
func (p *Process) Chain() string {
	if p == nil {
		return "process unknown"
	}
	if p.Err != "" {
		return "process unknown: " + p.Err
	}
	var b strings.Builder
	for _, a := range p.Parents {
		b.WriteString(shortName(a.Exe, a.Argv) + " → ")
	}
	b.WriteString(shortName(p.Exe, p.Argv))
	for _, a := range p.Argv[min(1, len(p.Argv)):] {
		b.WriteString(" " + quoteArg(a))
	}
	return b.String()
}

// quoteArg is an argument as a reader can tell it from the next: quoted,
// with Go's escapes, when it is empty or holds spaces, quotes, backslashes
// or control characters (a newline would break a report line in two).
func quoteArg(a string) string {
	if a == "" {
		return `""`
	}
	for _, r := range a {
		if r <= ' ' || r == '"' || r == '\'' || r == '\\' || r == 0x7f {
			return strconv.Quote(a)
		}
	}
	return a
}

// shortName is the base name a process was started as (argv[0], which
// says "sh" where the executable is dash), else its executable's.
func shortName(exe string, argv []string) string {
	if len(argv) > 0 && argv[0] != "" {
		return filepath.Base(argv[0])
	}
	if exe == "" {
		return "?"
	}
	return filepath.Base(exe)
}

// PolicyStage says where a policy decision was made.
type PolicyStage string

// Stages of a flow at which a name appears and the policy decides.
const (
	// StageConnect: the SYN or first datagram (the address, and the name
	// the command resolved for it).
	StageConnect PolicyStage = "connect"
	// StageTLS: the ClientHello (its SNI).
	StageTLS PolicyStage = "tls"
	// StageHTTP: an HTTP request (its Host or :authority).
	StageHTTP PolicyStage = "http"
	// StageDNS: a query to htapod's resolver (the name asked for).
	StageDNS PolicyStage = "dns"
)

// Policy is emitted when the policy denied something — or, in audit mode,
// would have — and when a name disagrees with its connection (domain
// fronting). Allowed flows emit nothing.
type Policy struct {
	// FlowID is the flow decided on; 0 for a query to htapod's resolver.
	FlowID uint64
	Time   time.Time
	Stage  PolicyStage
	Proto  Proto
	// Dst is the destination (the resolver's address for StageDNS).
	Dst netip.AddrPort
	// Name is the name decided on at this stage: the resolved name, the
	// SNI, the Host, or the name asked for; "" for a bare address.
	Name string
	// Denied says the policy denies this; Audit that nothing was applied
	// (--audit): the flow went on.
	Denied, Audit bool
	// Rule is the rule that decided, with its source ("deny
	// 203.0.113.0/24 (policy.txt:3)"), or why the default decided.
	Rule string
	// Fronting, when set, is the name the command resolved for Dst while
	// Name (the SNI or Host) is not among the names that resolved to it.
	Fronting string
	Process  *Process
}

// Kind implements Event.
func (*Policy) Kind() string { return "policy" }

// Flow implements Event: the flow decided on, 0 for a query to htapod's
// resolver.
func (p *Policy) Flow() uint64 { return p.FlowID }

// At implements Event: when it was decided.
func (p *Policy) At() time.Time { return p.Time }

// Net implements Event: the flow's or query's transport.
func (p *Policy) Net() Proto { return p.Proto }
