package filter

import (
	"regexp"
	"sort"
)

// Span is a byte range [Start, End) of a string.
type Span struct {
	Start, End int
}

// Highlight returns where the grep patterns of f (Grep's pattern, and any
// ~g term that is not under a !) match in s, a line of the report: the
// byte ranges in order, overlapping and touching ranges merged, empty
// matches left out. It returns nil when f has no such pattern or nothing
// matches; a nil Filter has none.
func (f *Filter) Highlight(s string) []Span {
	if f == nil {
		return nil
	}
	var res []*regexp.Regexp
	walk(f.root, false, func(n node, negated bool) {
		if t, ok := n.(reNode); ok && t.op == opGrep && !negated {
			res = append(res, t.re)
		}
	})
	var spans []Span
	for _, re := range res {
		for _, m := range re.FindAllStringIndex(s, -1) {
			if m[0] < m[1] {
				spans = append(spans, Span{m[0], m[1]})
			}
		}
	}
	if len(spans) == 0 {
		return nil
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].Start < spans[j].Start })
	merged := spans[:1]
	for _, sp := range spans[1:] {
		last := &merged[len(merged)-1]
		if sp.Start <= last.End {
			last.End = max(last.End, sp.End)
			continue
		}
		merged = append(merged, sp)
	}
	return merged
}
