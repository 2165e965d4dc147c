package filter

import (
	"regexp"
	"strings"

	"github.com/htapod/htapod/event"
)

// argKind is what an operator takes after it.
type argKind int

const (
	noArg argKind = iota
	regexArg
	codeArg
)

// String names the argument in messages ("~d needs a regex").
func (k argKind) String() string {
	switch k {
	case regexArg:
		return "a regex"
	case codeArg:
		return "a status code"
	}
	return "nothing"
}

// opInfo describes an operator.
type opInfo struct {
	name string
	arg  argKind
	// matchRegex (regexArg) or matchKind (noArg) decides a term.
	matchRegex func(re *regexp.Regexp, e event.Event) bool
	matchKind  func(e event.Event) bool
	// caseSensitive: the regex is used as written, without (?i).
	caseSensitive bool
	// late: what the term reads may change after an HTTP exchange's
	// request event (see Filter.NeedsDone).
	late bool
	// bodies: the term reads bodies or messages (see Filter.ReadsBodies).
	bodies bool
}

// opGrep is ~g, which Grep builds directly.
var opGrep = &opInfo{name: "~g", arg: regexArg, matchRegex: matchGrep, caseSensitive: true, late: true, bodies: true}

// ops are the operators by name; opNames lists them in order.
var (
	ops     = map[string]*opInfo{}
	opNames []string
)

// opList is the hint for an unknown operator.
func opList() string { return "operators: " + strings.Join(opNames, " ") }

func init() {
	for _, op := range []*opInfo{
		{name: "~d", arg: regexArg, matchRegex: matchDomain},
		{name: "~u", arg: regexArg, matchRegex: matchURL},
		{name: "~m", arg: regexArg, matchRegex: matchMethod},
		{name: "~c", arg: codeArg, late: true},
		{name: "~h", arg: regexArg, matchRegex: matchHeader(true, true), late: true},
		{name: "~hq", arg: regexArg, matchRegex: matchHeader(true, false), late: true},
		{name: "~hs", arg: regexArg, matchRegex: matchHeader(false, true), late: true},
		{name: "~b", arg: regexArg, matchRegex: matchBody(true, true), late: true, bodies: true},
		{name: "~bq", arg: regexArg, matchRegex: matchBody(true, false), late: true, bodies: true},
		{name: "~bs", arg: regexArg, matchRegex: matchBody(false, true), late: true, bodies: true},
		{name: "~t", arg: regexArg, matchRegex: matchType(true, true), late: true},
		{name: "~tq", arg: regexArg, matchRegex: matchType(true, false), late: true},
		{name: "~ts", arg: regexArg, matchRegex: matchType(false, true), late: true},
		opGrep,
		{name: "~q", matchKind: func(e event.Event) bool {
			h, ok := e.(*event.HTTP)
			return ok && h.Status == 0
		}, late: true},
		{name: "~s", matchKind: func(e event.Event) bool {
			h, ok := e.(*event.HTTP)
			return ok && h.Status != 0
		}, late: true},
		{name: "~http", matchKind: func(e event.Event) bool {
			_, ok := e.(*event.HTTP)
			return ok
		}},
		{name: "~websocket", matchKind: func(e event.Event) bool {
			switch e := e.(type) {
			case *event.WebSocket:
				return true
			case *event.HTTP:
				return e.Upgrade == "websocket"
			}
			return false
		}, late: true},
		{name: "~dns", matchKind: func(e event.Event) bool {
			_, ok := e.(*event.DNS)
			return ok
		}},
		{name: "~tls", matchKind: func(e event.Event) bool {
			switch e := e.(type) {
			case *event.TLS:
				return true
			case *event.HTTP:
				return e.TLS
			case *event.WebSocket:
				return e.TLS
			}
			return false
		}},
		{name: "~tcp", matchKind: func(e event.Event) bool { return e.Net() == event.TCP }},
		{name: "~udp", matchKind: func(e event.Event) bool { return e.Net() == event.UDP }},
		{name: "~proc", arg: regexArg, matchRegex: matchProc, caseSensitive: true},
	} {
		ops[op.name] = op
		opNames = append(opNames, op.name)
	}
}

// ReadsBodies reports whether f reads the bytes of bodies or WebSocket
// messages (~b, ~bq, ~bs, ~g): the dissectors must then keep them. A nil
// Filter reads none.
func (f *Filter) ReadsBodies() bool {
	if f == nil {
		return false
	}
	reads := false
	walk(f.root, false, func(n node, _ bool) {
		if n, ok := n.(reNode); ok && n.op.bodies {
			reads = true
		}
	})
	return reads
}

// NeedsDone reports whether f reads a part of an HTTP exchange that its
// request event does not hold yet: the status, response fields, bodies,
// content types, trailers. Match on a request event then decides on what
// is missing (no status, no body), so a sink that shows an exchange's
// request early should hold it for such a filter and decide on the
// exchange's done event, which holds everything. A nil Filter needs
// nothing.
func (f *Filter) NeedsDone() bool {
	if f == nil {
		return false
	}
	late := false
	walk(f.root, false, func(n node, _ bool) {
		switch n := n.(type) {
		case reNode:
			late = late || n.op.late
		case kindNode:
			late = late || n.op.late
		case codeNode:
			late = true
		}
	})
	return late
}
