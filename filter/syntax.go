package filter

import (
	"fmt"
	"strings"
	"unicode"
)

// SyntaxError is an expression that does not parse: an unknown operator,
// a missing argument or parenthesis, a bad regular expression or status.
type SyntaxError struct {
	// Flag names the option the expression came from: "--filter" for
	// Parse, "--grep" for Grep. A caller may change it before printing;
	// "" leaves the prefix out.
	Flag string
	// Expr is the whole expression.
	Expr string
	// Col is the 1-based column, counted in runes, of what is wrong: the
	// start of a bad argument, the parenthesis never closed, or one past
	// the end when the expression stops too early.
	Col int
	// Msg says what is wrong, without the position.
	Msg string
	// Hint, when not "", says what to write instead.
	Hint string
}

// Error renders the message on a line, then the expression with a caret
// under the column, then the hint:
//
//	--filter: unknown operator "~x" at column 10
//	  ~d api & ~x foo
//	           ^
//	operators: ~d ~u ~m ~c ~h ~hq ~hs ~b ~bq ~bs ~t ~tq ~ts ~g ~q ~s ~http ~websocket ~dns ~tls ~tcp ~udp ~proc
func (e *SyntaxError) Error() string {
	var b strings.Builder
	if e.Flag != "" {
		b.WriteString(e.Flag + ": ")
	}
	fmt.Fprintf(&b, "%s at column %d\n  ", e.Msg, e.Col)
	var pad strings.Builder
	col := 1
	for _, r := range e.Expr {
		if r != '\t' && unicode.IsControl(r) {
			r = ' ' // a newline would part the caret from its line
		}
		b.WriteRune(r)
		if col < e.Col {
			if r == '\t' {
				pad.WriteByte('\t')
			} else {
				pad.WriteByte(' ')
			}
		}
		col++
	}
	b.WriteString("\n  " + pad.String() + "^")
	if e.Hint != "" {
		b.WriteString("\n" + e.Hint)
	}
	return b.String()
}

// hint sets e's Hint and returns e.
func (e *SyntaxError) hint(h string) *SyntaxError {
	e.Hint = h
	return e
}

// parser reads an expression rune by rune. Columns are rune indexes + 1.
type parser struct {
	flag string
	expr string
	rs   []rune
	pos  int
}

// eof is what peek returns at the end.
const eof = -1

func (p *parser) peek() rune {
	if p.pos >= len(p.rs) {
		return eof
	}
	return p.rs[p.pos]
}

func (p *parser) skipSpace() {
	for p.pos < len(p.rs) && unicode.IsSpace(p.rs[p.pos]) {
		p.pos++
	}
}

// col is the column of the next rune (one past the end at the end).
func (p *parser) col() int { return p.pos + 1 }

func (p *parser) errorf(col int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Flag: p.flag, Expr: p.expr, Col: col, Msg: fmt.Sprintf(format, args...)}
}

// endsWord says whether r ends a bare word: space, a parenthesis or a
// binary operator.
func endsWord(r rune) bool {
	return r == eof || unicode.IsSpace(r) || strings.ContainsRune("()&|", r)
}

// word reads a bare word from the current position.
func (p *parser) word() string {
	start := p.pos
	for !endsWord(p.peek()) {
		p.pos++
	}
	return string(p.rs[start:p.pos])
}

// quoted reads a string in the quotes that p is at: a backslash escapes
// the quote and itself, and stays before anything else.
func (p *parser) quoted() (string, *SyntaxError) {
	start := p.col()
	q := p.peek()
	p.pos++
	var b strings.Builder
	for {
		r := p.peek()
		switch {
		case r == eof:
			return "", p.errorf(start, "quote %c is never closed", q)
		case r == q:
			p.pos++
			return b.String(), nil
		case r == '\\' && p.pos+1 < len(p.rs) && (p.rs[p.pos+1] == q || p.rs[p.pos+1] == '\\'):
			b.WriteRune(p.rs[p.pos+1])
			p.pos += 2
		default:
			b.WriteRune(r)
			p.pos++
		}
	}
}

// arg reads the argument of op: a quoted string or a bare word. It
// returns the argument's column for errors about its content.
func (p *parser) arg(op *opInfo) (string, int, *SyntaxError) {
	p.skipSpace()
	col := p.col()
	switch r := p.peek(); {
	case r == eof:
		return "", col, p.errorf(col, "%s needs %s after it", op.name, op.arg)
	case r == '\'' || r == '"':
		s, err := p.quoted()
		return s, col, err
	case r == '!' || r == '~':
		return "", col, p.errorf(col, "%s needs %s, found %q", op.name, op.arg, r).
			hint(fmt.Sprintf("quote an argument that starts with %c: %s '%c…'", r, op.name, r))
	case endsWord(r):
		return "", col, p.errorf(col, "%s needs %s, found %q", op.name, op.arg, r)
	}
	return p.word(), col, nil
}

// quote renders s as an argument that arg reads back as s: bare when it
// can be, else in single quotes (double when s holds a single quote and
// no double one).
func quote(s string) string {
	if bare(s) {
		return s
	}
	q := '\''
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.WriteRune(q)
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		if rs[i] == q {
			b.WriteRune('\\')
		}
		if rs[i] != '\\' {
			b.WriteRune(rs[i])
			continue
		}
		// A run of backslashes: arg reads a lone one before any other
		// character as itself, and pairs up the others.
		j := i
		for j < len(rs) && rs[j] == '\\' {
			j++
		}
		run := strings.Repeat(`\`, j-i)
		if j-i > 1 || j == len(rs) || rs[j] == q {
			run += run
		}
		b.WriteString(run)
		i = j - 1
	}
	b.WriteRune(q)
	return b.String()
}

// bare says whether s reads back as itself unquoted.
func bare(s string) bool {
	if s == "" || s[0] == '!' || s[0] == '~' {
		return false
	}
	for _, r := range s {
		if endsWord(r) || r == '\'' || r == '"' || unicode.IsControl(r) {
			return false
		}
	}
	return true
}
