package filter

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// parseTests are expressions that parse, with their normal form.
var parseTests = []struct {
	in, want string
}{
	{"~d api.lab.test", "~d api.lab.test"},
	{"  ~d   api.lab.test  ", "~d api.lab.test"},
	{"~d api.lab.test & ~m POST & !~c 2..", "~d api.lab.test & ~m POST & !~c 2xx"},
	// Side by side is &.
	{"~d api ~m POST", "~d api & ~m POST"},
	{"~d a !~m b (~c 404)", "~d a & !~m b & ~c 404"},
	// ! binds tighter than &, & tighter than |.
	{"~d a & ~m b | ~c 404", "~d a & ~m b | ~c 404"},
	{"~d a | ~m b & ~c 404", "~d a | ~m b & ~c 404"},
	{"(~d a | ~m b) & ~c 404", "(~d a | ~m b) & ~c 404"},
	{"!(~d a | ~m b)", "!(~d a | ~m b)"},
	{"!(~d a & ~m b)", "!(~d a & ~m b)"},
	{"!!~d a", "!!~d a"},
	{"!(!~d a)", "!!~d a"},
	// Redundant parentheses go; & and | are flattened.
	{"((~d a))", "~d a"},
	{"~d a & (~m b & ~c 404)", "~d a & ~m b & ~c 404"},
	{"(~d a | ~m b) | ~c 404", "~d a | ~m b | ~c 404"},
	{"~d a|~m b", "~d a | ~m b"},
	{"~d a&~m b", "~d a & ~m b"},
	{"(~d a)(~m b)", "~d a & ~m b"},
	{"\t~d a\n&\n~m b", "~d a & ~m b"},
	// Every operator.
	{"~u /v1/ ~m get ~h accept ~hq x-id ~hs server ~b token ~bq q ~bs s", "~u /v1/ & ~m get & ~h accept & ~hq x-id & ~hs server & ~b token & ~bq q & ~bs s"},
	{"~t json | ~tq form | ~ts html | ~g Secret", "~t json | ~tq form | ~ts html | ~g Secret"},
	{"~q | ~s | ~http | ~websocket | ~dns | ~tls | ~tcp | ~udp", "~q | ~s | ~http | ~websocket | ~dns | ~tls | ~tcp | ~udp"},
	// Status codes, classes and ranges.
	{"~c 301", "~c 301"},
	{"~c 2..", "~c 2xx"},
	{"~c 5XX", "~c 5xx"},
	{"~c '4xx'", "~c 4xx"},
	{"~c 200..299", "~c 200..299"},
	{"~c 400..", "~c 400.."},
	{"~c ..399", "~c ..399"},
	{"~c 100..999", "~c ..999"},
	{"~c 404..404", "~c 404"},
	// Quoting: bare where possible, else single quotes, else double.
	{"~d 'api.lab.test'", "~d api.lab.test"},
	{`~d "api.lab.test"`, "~d api.lab.test"},
	{"~b 'a b'", "~b 'a b'"},
	{`~b "it's"`, `~b "it's"`},
	{`~b 'it\'s "x"'`, `~b 'it\'s "x"'`},
	{`~b 'a\.b c'`, `~b 'a\.b c'`},
	{`~b 'a\\b c'`, `~b 'a\b c'`},
	{`~b 'a\\\\'`, `~b a\\`},
	{`~b 'x\\\\ y\\\\'`, `~b 'x\\\\ y\\\\'`},
	{`~b 'x\ y\\\\z'`, `~b 'x\ y\\\\z'`},
	{`~b '(a|b)'`, `~b '(a|b)'`},
	{`~b '!important'`, `~b '!important'`},
	{`~b '~x'`, `~b '~x'`},
	{`~b a!b~c`, `~b a!b~c`},
	{`~b ''`, `~b ''`},
	{`~u ^https://[a-z]+\.lab\.test/v\d+/`, `~u ^https://[a-z]+\.lab\.test/v\d+/`},
	{`~b don't`, `~b "don't"`},
	{`~b éclair`, `~b éclair`},
}

func TestParse(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.in, func(t *testing.T) {
			f, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q) = %v", tt.in, err)
			}
			if got := f.String(); got != tt.want {
				t.Errorf("Parse(%q).String() = %q; want %q", tt.in, got, tt.want)
			}
			g, err := Parse(f.String())
			if err != nil {
				t.Fatalf("Parse(%q) of the normal form = %v", f.String(), err)
			}
			if g.String() != f.String() {
				t.Errorf("Parse(%q).String() = %q; want it unchanged", f.String(), g.String())
			}
		})
	}
}

// parseErrors are expressions that do not parse, with where and why.
var parseErrors = []struct {
	in   string
	col  int
	msg  string // Msg, in full
	hint string // a part of Hint
}{
	{"", 1, "empty expression", ""},
	{"   ", 4, "empty expression", ""},
	{"~d api & ~x foo", 10, `unknown operator "~x"`, "operators: ~d ~u"},
	{"~D api", 1, `unknown operator "~D"`, ""},
	{"~dapi", 1, `unknown operator "~dapi"`, ""},
	{"~ d", 1, "operator name missing after ~", ""},
	{"~d", 3, "~d needs a regex after it", ""},
	{"~d   ", 6, "~d needs a regex after it", ""},
	{"~d & ~m x", 4, `~d needs a regex, found '&'`, ""},
	{"(~d)", 4, `~d needs a regex, found ')'`, ""},
	{"~b !x", 4, `~b needs a regex, found '!'`, "~b '!…'"},
	{"~d ~m x", 4, `~d needs a regex, found '~'`, ""},
	{"~c", 3, "~c needs a status code after it", ""},
	{"~d 'abc", 4, "quote ' is never closed", ""},
	{`~d "abc\"`, 4, `quote " is never closed`, ""},
	{"~d 'a(b'", 4, "bad regex for ~d: missing closing ): `a(b`", ""},
	{"~m x & ~u [z-a]", 11, "bad regex for ~u: invalid character class range: `z-a`", ""},
	{"~g a**", 4, "bad regex for ~g: invalid nested repetition operator: `**`", ""},
	{"~c 2..4", 4, `bad status "2..4" for ~c`, "4xx or 4.."},
	{"~c abc", 4, `bad status "abc" for ~c`, ""},
	{"~c 0", 4, `bad status "0" for ~c`, ""},
	{"~c 099", 4, `bad status "099" for ~c`, ""},
	{"~c 1000", 4, `bad status "1000" for ~c`, ""},
	{"~c 0xx", 4, `bad status "0xx" for ~c`, ""},
	{"~c ..", 4, `bad status ".." for ~c`, ""},
	{"~c 500..400", 4, `bad status "500..400" for ~c`, ""},
	{"~c 200...300", 4, `bad status "200...300" for ~c`, ""},
	{"~d a & ~c 4x", 11, `bad status "4x" for ~c`, ""},
	{"api", 1, `expected an operator, found "api"`, "~d api.lab.test"},
	{"~d a b", 6, `unexpected "b"`, "quote an argument"},
	{"~d a)", 5, "unexpected ) with no ( before it", ""},
	{"(~d a", 1, "( is never closed", ""},
	{"~m x & ((~d a)", 8, "( is never closed", ""},
	{"(~d a b)", 7, `expected ), found "b"`, "quote an argument"},
	{"()", 2, "expected an expression after (, found ')'", ""},
	{"~d a &", 7, "expected an expression after &", ""},
	{"~d a |", 7, "expected an expression after |", ""},
	{"~d a & | ~m b", 8, "expected an expression after &, found '|'", ""},
	{"!", 2, "expected an expression after !", ""},
	{"& ~d a", 1, "expected an expression, found '&'", ""},
	{"| ~d a", 1, "expected an expression, found '|'", ""},
	{"~d a && ~m b", 6, `unknown operator "&&"`, "single &"},
	{"~d a || ~m b", 6, `unknown operator "||"`, "single |"},
	{"~d é & ~x", 8, `unknown operator "~x"`, ""},
}

func TestParseErrors(t *testing.T) {
	for _, tt := range parseErrors {
		t.Run(tt.in, func(t *testing.T) {
			f, err := Parse(tt.in)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) = %v, %v; want a *SyntaxError", tt.in, f, err)
			}
			if se.Col != tt.col || se.Msg != tt.msg {
				t.Errorf("Parse(%q): column %d, %q; want column %d, %q", tt.in, se.Col, se.Msg, tt.col, tt.msg)
			}
			if !strings.Contains(se.Hint, tt.hint) {
				t.Errorf("Parse(%q): hint %q; want it to contain %q", tt.in, se.Hint, tt.hint)
			}
			if se.Flag != "--filter" || se.Expr != tt.in {
				t.Errorf("Parse(%q): Flag %q, Expr %q; want --filter and the expression", tt.in, se.Flag, se.Expr)
			}
		})
	}
}

// TestSyntaxErrorRender checks the rendering golden: the caret under the
// column, with tabs kept and line breaks shown as spaces.
func TestSyntaxErrorRender(t *testing.T) {
	tests := []struct {
		err  *SyntaxError
		want string
	}{{
		&SyntaxError{Flag: "--filter", Expr: "~d api & ~x foo", Col: 10, Msg: `unknown operator "~x"`},
		"--filter: unknown operator \"~x\" at column 10\n" +
			"  ~d api & ~x foo\n" +
			"           ^",
	}, {
		&SyntaxError{Flag: "--filter", Expr: "~d\tapi\n&", Col: 9, Msg: "expected an expression after &", Hint: "add a term"},
		"--filter: expected an expression after & at column 9\n" +
			"  ~d\tapi &\n" +
			"    \t     ^\n" +
			"add a term",
	}, {
		&SyntaxError{Expr: "é(", Col: 2, Msg: "bad regex"},
		"bad regex at column 2\n" +
			"  é(\n" +
			"   ^",
	}}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() =\n%s\nwant\n%s", got, tt.want)
		}
	}
}

func TestParseErrorExample(t *testing.T) {
	_, err := Parse("~d api & ~x foo")
	want := "--filter: unknown operator \"~x\" at column 10\n" +
		"  ~d api & ~x foo\n" +
		"           ^\n" +
		"operators: ~d ~u ~m ~c ~h ~hq ~hs ~b ~bq ~bs ~t ~tq ~ts ~g ~q ~s ~http ~websocket ~dns ~tls ~tcp ~udp ~proc"
	if err == nil || err.Error() != want {
		t.Errorf("Parse error =\n%v\nwant\n%s", err, want)
	}
}

// FuzzParse checks that Parse never panics, that its errors point into
// the expression, and that a filter's normal form parses back to the same
// normal form and the same matches. The seed corpus in
// testdata/fuzz/FuzzParse holds the table tests' expressions.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, expr string) {
		flt, err := Parse(expr)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) = %v; want a *SyntaxError", expr, err)
			}
			if n := utf8.RuneCountInString(expr); se.Col < 1 || se.Col > n+1 {
				t.Fatalf("Parse(%q): column %d outside 1..%d", expr, se.Col, n+1)
			}
			_ = se.Error()
			return
		}
		norm := flt.String()
		again, err := Parse(norm)
		if err != nil {
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", expr, norm, err)
		}
		if got := again.String(); got != norm {
			t.Fatalf("Parse(%q) = %q, which parses to %q", expr, norm, got)
		}
		if got, want := matching(again), matching(flt); got != want {
			t.Fatalf("Parse(%q) = %q, which matches %q; want %q", expr, norm, got, want)
		}
		flt.NeedsDone()
		flt.Highlight(expr)
	})
}
