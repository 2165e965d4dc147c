package filter

import (
	"errors"
	"testing"
	"unicode/utf8"
)

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
