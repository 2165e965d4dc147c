// Package policy decides which destinations a command may reach: rules
// "allow PATTERN" and "deny PATTERN" over host names (globs), addresses
// and ranges, ports and transports, decided wherever a name appears — at
// the connection (the address and the name the command resolved for it),
// at the TLS ClientHello (SNI), at each HTTP request (Host), and at DNS
// (the name asked for).
//
// Order: the first rule that matches decides, in the order the rules were
// given (command-line rules and files in their order on the command line,
// a file's rules in its line order). There is no specificity: put a deny
// for "evil.example.com" before an allow for "*.example.com". When no
// rule matches, the flow is allowed if no allow rule was given at all
// (a deny list), and denied as soon as one was (an allow list).
//
// A rule with a host pattern matches only a flow that has a name; a flow
// to an address the command did not resolve through htapod's resolver (a
// literal IP) is matched by address rules only. At DNS only host rules
// count, and a deny rule limited to a port or a transport does not refuse
// the name (other ports of it may be allowed).
//
// The file form (Parse): one rule a line, "allow" or "deny" followed by
// one or more patterns; "#" starts a comment (at the start of a line or
// after a space). Errors name the place as file:line:column.
package policy

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// Action is what a rule does with what it matches.
type Action bool

// Actions.
const (
	Deny  Action = false
	Allow Action = true
)

func (a Action) String() string {
	if a == Allow {
		return "allow"
	}
	return "deny"
}

// Rule is one rule: an action on a pattern, and where it was written.
type Rule struct {
	Action  Action
	Pattern Pattern
	// Source says where the rule came from: "policy.txt:3" or "--allow".
	Source string
}

// String is the rule as written in a policy file ("deny 203.0.113.0/24").
func (r Rule) String() string { return r.Action.String() + " " + r.Pattern.String() }

// Describe is the rule with its source ("deny 203.0.113.0/24 (policy.txt:3)").
func (r Rule) Describe() string {
	if r.Source == "" {
		return r.String()
	}
	return r.String() + " (" + r.Source + ")"
}

// Policy is an ordered list of rules, compiled for fast matching. Build it
// with New, Add and Parse before use; its methods that decide are then
// safe for concurrent use. The zero Policy allows everything.
type Policy struct {
	rules    []Rule
	hasAllow bool
	m        *matcher
}

// New returns a policy of rules, in order.
func New(rules ...Rule) *Policy {
	p := &Policy{}
	for _, r := range rules {
		p.add(r)
	}
	return p
}

func (p *Policy) add(r Rule) {
	p.rules = append(p.rules, r)
	p.hasAllow = p.hasAllow || r.Action == Allow
	p.m = nil
}

// Add parses pattern and appends a rule; source says where it came from
// (for messages and reports).
func (p *Policy) Add(a Action, pattern, source string) error {
	pat, err := ParsePattern(pattern)
	if err != nil {
		return fmt.Errorf("%s %q: %w", a, pattern, err)
	}
	p.add(Rule{Action: a, Pattern: pat, Source: source})
	return nil
}

// Rules returns the rules in order. The caller must not change them.
func (p *Policy) Rules() []Rule { return p.rules }

// Len is the number of rules.
func (p *Policy) Len() int { return len(p.rules) }

// AllowList says whether an allow rule was given: what no rule matches is
// then denied.
func (p *Policy) AllowList() bool { return p.hasAllow }

// SyntaxError is a policy file error at File:Line:Col.
type SyntaxError struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// ParseFile reads the policy file at path and appends its rules.
func (p *Policy) ParseFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read policy: %w", err)
	}
	defer f.Close()
	return p.Parse(path, f)
}

// maxLine bounds a policy file's line.
const maxLine = 64 << 10

// Parse reads a policy file from r (name is used in errors and as the
// rules' source) and appends its rules. The first error stops it, and
// is a *SyntaxError when the text is at fault.
func (p *Policy) Parse(name string, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxLine)
	for n := 1; sc.Scan(); n++ {
		rules, err := parseLine(sc.Text())
		if err != nil {
			err.File, err.Line = name, n
			return err
		}
		for _, r := range rules {
			r.Source = fmt.Sprintf("%s:%d", name, n)
			p.add(r)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read policy %s: %w", name, err)
	}
	return nil
}

// parseLine parses one line of a policy file; File and Line of an error
// are left for the caller.
func parseLine(line string) ([]Rule, *SyntaxError) {
	fields := splitFields(line)
	if len(fields) == 0 {
		return nil, nil
	}
	var a Action
	switch strings.ToLower(fields[0].s) {
	case "allow":
		a = Allow
	case "deny":
		a = Deny
	default:
		return nil, &SyntaxError{Col: fields[0].col, Msg: fmt.Sprintf("unknown action %q (want allow or deny)", fields[0].s)}
	}
	if len(fields) == 1 {
		return nil, &SyntaxError{Col: fields[0].col + len(fields[0].s), Msg: fmt.Sprintf("%s needs a pattern", a)}
	}
	var rules []Rule
	for _, f := range fields[1:] {
		pat, err := ParsePattern(f.s)
		if err != nil {
			col, msg := f.col, err.Error()
			if pe, ok := err.(*PatternError); ok {
				col += pe.Col - 1
			}
			return nil, &SyntaxError{Col: col, Msg: msg}
		}
		rules = append(rules, Rule{Action: a, Pattern: pat})
	}
	return rules, nil
}

type field struct {
	s   string
	col int // 1-based byte column
}

// splitFields splits a line at spaces and tabs and drops a comment: "#"
// at the start of a field.
func splitFields(line string) []field {
	var out []field
	i := 0
	for i < len(line) {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r') {
			i++
		}
		if i >= len(line) || line[i] == '#' {
			break
		}
		start := i
		for i < len(line) && line[i] != ' ' && line[i] != '\t' && line[i] != '\r' {
			i++
		}
		out = append(out, field{line[start:i], start + 1})
	}
	return out
}
