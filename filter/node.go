package filter

import (
	"regexp"
	"strings"

	"github.com/htapod/htapod/event"
)

// node is a parsed expression: a term or an operator over terms.
type node interface {
	match(e event.Event) bool
}

// notNode is !x.
type notNode struct{ x node }

// andNode is x & y & …, at least two terms, none of them an andNode.
type andNode []node

// orNode is x | y | …, at least two terms, none of them an orNode.
type orNode []node

// reNode is a term with a regex argument.
type reNode struct {
	op  *opInfo
	src string // as written, without (?i)
	re  *regexp.Regexp
}

// kindNode is a term without an argument.
type kindNode struct{ op *opInfo }

func (n notNode) match(e event.Event) bool  { return !n.x.match(e) }
func (n reNode) match(e event.Event) bool   { return n.op.matchRegex(n.re, e) }
func (n kindNode) match(e event.Event) bool { return n.op.matchKind(e) }

func (n andNode) match(e event.Event) bool {
	for _, x := range n {
		if !x.match(e) {
			return false
		}
	}
	return true
}

func (n orNode) match(e event.Event) bool {
	for _, x := range n {
		if x.match(e) {
			return true
		}
	}
	return false
}

// with appends x, flattening an andNode, since & is associative.
func (n andNode) with(x node) andNode {
	if y, ok := x.(andNode); ok {
		return append(n, y...)
	}
	return append(n, x)
}

// with appends x, flattening an orNode, since | is associative.
func (n orNode) with(x node) orNode {
	if y, ok := x.(orNode); ok {
		return append(n, y...)
	}
	return append(n, x)
}

// Binding strengths for printing, loosest first.
const (
	precOr = iota
	precAnd
	precNot
)

// String returns f in normal form: & and | spelt out between spaced
// terms, ! against its operand, parentheses only where needed, arguments
// bare where they can be and ~c codes as 404, 4xx, 400..404, 400.. or
// ..399. Parse reads it back to an equal filter. A nil Filter is "".
func (f *Filter) String() string {
	if f == nil {
		return ""
	}
	var b strings.Builder
	write(&b, f.root, precOr)
	return b.String()
}

// write prints n into b; outer is the binding strength around it.
func write(b *strings.Builder, n node, outer int) {
	switch n := n.(type) {
	case notNode:
		b.WriteByte('!')
		write(b, n.x, precNot)
	case andNode:
		writeList(b, n, " & ", precAnd, outer)
	case orNode:
		writeList(b, n, " | ", precOr, outer)
	case reNode:
		b.WriteString(n.op.name + " " + quote(n.src))
	case kindNode:
		b.WriteString(n.op.name)
	case codeNode:
		b.WriteString("~c " + n.String())
	}
}

func writeList(b *strings.Builder, terms []node, sep string, prec, outer int) {
	if outer > prec {
		b.WriteByte('(')
	}
	for i, x := range terms {
		if i > 0 {
			b.WriteString(sep)
		}
		write(b, x, prec+1)
	}
	if outer > prec {
		b.WriteByte(')')
	}
}

// walk calls fn on every term of n with whether it is negated (under an
// odd number of !).
func walk(n node, negated bool, fn func(n node, negated bool)) {
	switch n := n.(type) {
	case notNode:
		walk(n.x, !negated, fn)
	case andNode:
		for _, x := range n {
			walk(x, negated, fn)
		}
	case orNode:
		for _, x := range n {
			walk(x, negated, fn)
		}
	default:
		fn(n, negated)
	}
}
