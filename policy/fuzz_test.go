package policy

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse feeds policy files to the parser: it must never panic, every
// error must be a SyntaxError with a place inside the text, and every rule
// it reads must read back the same from its String form.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"allow *.lab.test\n",
		"deny 203.0.113.0/24\nallow [2001:db8::]/32:53 # x\n",
		"allow tcp:www.lab.test:443 udp:203.0.113.7:53\n",
		"block x\n",
		"allow [::1\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p := New()
		err := p.Parse("f", strings.NewReader(text))
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				return // a line longer than the scanner's limit
			}
			if se.Line < 1 || se.Col < 1 {
				t.Fatalf("error outside the text: %v", err)
			}
			return
		}
		for _, r := range p.Rules() {
			again, err := ParsePattern(r.Pattern.String())
			if err != nil || again != r.Pattern {
				t.Fatalf("pattern %+v reads back as %+v, %v", r.Pattern, again, err)
			}
		}
	})
}
