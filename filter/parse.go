package filter

import (
	"fmt"
	"regexp"
	"regexp/syntax"
)

// Filter is a parsed expression. A nil *Filter matches every event. A
// Filter is immutable and safe for concurrent use.
type Filter struct {
	root node
}

// Parse parses a --filter expression (see the package documentation for
// the language). Errors are *SyntaxError with Flag "--filter".
func Parse(expr string) (*Filter, error) {
	p := &parser{flag: "--filter", expr: expr, rs: []rune(expr)}
	p.skipSpace()
	if p.peek() == eof {
		return nil, p.errorf(p.col(), "empty expression")
	}
	n, err := p.or("")
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if r := p.peek(); r != eof {
		col := p.col()
		if r == ')' {
			return nil, p.errorf(col, "unexpected ) with no ( before it")
		}
		return nil, p.errorf(col, "unexpected %q", p.word()).hint(quoteSpaces)
	}
	return &Filter{root: n}, nil
}

// Grep returns a filter of the events in which the regular expression
// pattern (Go syntax) matches a URL, a "Name: value" header or trailer
// line, a decoded body of either side, a DNS question's name or an
// answer's data, a WebSocket message's payload or close reason, a TLS
// SNI, or a flow's destination ("203.0.113.10:443") or resolved name.
//
// Unlike --filter regexes, pattern is case-sensitive, as grep's is: start
// it with (?i) to ignore case. The filter is the term ~g pattern of the
// language, and Highlight finds pattern in report lines. Errors are
// *SyntaxError with Flag "--grep".
func Grep(pattern string) (*Filter, error) {
	p := &parser{flag: "--grep", expr: pattern, rs: []rune(pattern)}
	n, err := p.regex(opGrep, pattern, 1)
	if err != nil {
		return nil, err
	}
	return &Filter{root: n}, nil
}

// And returns a filter of the events that all of fs match; nil filters
// are left out (they match everything). It returns nil when all are nil.
// Use it to apply --filter and --grep together.
func And(fs ...*Filter) *Filter {
	var terms andNode
	for _, f := range fs {
		if f != nil {
			terms = terms.with(f.root)
		}
	}
	switch len(terms) {
	case 0:
		return nil
	case 1:
		return &Filter{root: terms[0]}
	}
	return &Filter{root: terms}
}

// quoteSpaces is the hint for a word where an operator should be, which
// is most often the rest of an argument with a space in it.
const quoteSpaces = "quote an argument that contains spaces, as in ~b 'a b'"

// or parses X | Y | …; after names what came before it, for messages.
func (p *parser) or(after string) (node, *SyntaxError) {
	x, err := p.and(after)
	if err != nil {
		return nil, err
	}
	var terms orNode
	for {
		p.skipSpace()
		if p.peek() != '|' {
			break
		}
		p.pos++
		if p.peek() == '|' {
			return nil, p.errorf(p.col()-1, "unknown operator \"||\"").hint("write a single | for or")
		}
		y, err := p.and("|")
		if err != nil {
			return nil, err
		}
		if terms == nil {
			terms = orNode{}.with(x)
		}
		terms = terms.with(y)
	}
	if terms == nil {
		return x, nil
	}
	return terms, nil
}

// and parses X & Y & … and X Y ….
func (p *parser) and(after string) (node, *SyntaxError) {
	x, err := p.unary(after)
	if err != nil {
		return nil, err
	}
	var terms andNode
	for {
		p.skipSpace()
		switch p.peek() {
		case '&':
			p.pos++
			if p.peek() == '&' {
				return nil, p.errorf(p.col()-1, "unknown operator \"&&\"").hint("write a single & for and")
			}
			after = "&"
		case '!', '(', '~':
			after = "" // side by side: an implicit &
		default:
			if terms == nil {
				return x, nil
			}
			return terms, nil
		}
		y, err := p.unary(after)
		if err != nil {
			return nil, err
		}
		if terms == nil {
			terms = andNode{}.with(x)
		}
		terms = terms.with(y)
	}
}

// unary parses !X and primaries.
func (p *parser) unary(after string) (node, *SyntaxError) {
	p.skipSpace()
	if p.peek() != '!' {
		return p.primary(after)
	}
	p.pos++
	x, err := p.unary("!")
	if err != nil {
		return nil, err
	}
	return notNode{x}, nil
}

// primary parses (X) and terms.
func (p *parser) primary(after string) (node, *SyntaxError) {
	p.skipSpace()
	col := p.col()
	switch r := p.peek(); r {
	case eof:
		return nil, p.errorf(col, "expected an expression after %s", after)
	case '(':
		p.pos++
		x, err := p.or("(")
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.peek() != ')' {
			if p.peek() == eof {
				return nil, p.errorf(col, "( is never closed")
			}
			return nil, p.errorf(p.col(), "expected ), found %q", p.word()).hint(quoteSpaces)
		}
		p.pos++
		return x, nil
	case ')', '&', '|':
		if after == "" {
			return nil, p.errorf(col, "expected an expression, found %q", r)
		}
		return nil, p.errorf(col, "expected an expression after %s, found %q", after, r)
	case '~':
		return p.term()
	}
	return nil, p.errorf(col, "expected an operator, found %q", p.word()).
		hint("start a term with an operator, as in ~d api.lab.test")
}

// term parses an operator and its argument.
func (p *parser) term() (node, *SyntaxError) {
	col := p.col()
	start := p.pos
	p.pos++ // ~
	for r := p.peek(); r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'; r = p.peek() {
		p.pos++
	}
	name := string(p.rs[start:p.pos])
	op := ops[name]
	switch {
	case name == "~":
		return nil, p.errorf(col, "operator name missing after ~").hint(opList())
	case op == nil:
		return nil, p.errorf(col, "unknown operator %q", name).hint(opList())
	case op.arg == noArg:
		return kindNode{op}, nil
	}
	s, acol, err := p.arg(op)
	if err != nil {
		return nil, err
	}
	if op.arg == codeArg {
		c, ok := parseCode(s)
		if !ok {
			return nil, p.errorf(acol, "bad status %q for ~c", s).
				hint("write a status as 404, a class as 4xx or 4.., a range as 400..404, 400.. or ..399")
		}
		return c, nil
	}
	return p.regex(op, s, acol)
}

// regex compiles the argument s of op found at col: case-insensitive
// unless op is ~g.
func (p *parser) regex(op *opInfo, s string, col int) (node, *SyntaxError) {
	// Compile s alone first so that a message quotes only what the user
	// wrote.
	re, err := regexp.Compile(s)
	if err == nil && !op.caseSensitive {
		re, err = regexp.Compile("(?i)" + s)
	}
	if err != nil {
		msg := err.Error()
		if se, ok := err.(*syntax.Error); ok {
			msg = fmt.Sprintf("%s: `%s`", se.Code, se.Expr)
		}
		return nil, p.errorf(col, "bad regex for %s: %s", op.name, msg)
	}
	return reNode{op: op, src: s, re: re}, nil
}
