package bench

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// A unit says how a metric is printed and whether more is better.
type unit struct {
	name   string
	format string // for fmt, of the value alone
	// lowerBetter is set for times and sizes.
	lowerBetter bool
}

var (
	ms         = unit{name: "ms", format: "%.1f", lowerBetter: true}
	us         = unit{name: "µs", format: "%.0f", lowerBetter: true}
	gbits      = unit{name: "Gbit/s", format: "%.2f"}
	reqs       = unit{name: "req/s", format: "%.0f"}
	mbytes     = unit{name: "MB/s", format: "%.0f"}
	kibPerConn = unit{name: "KiB/conn", format: "%.1f", lowerBetter: true}
)

// value prints v in u.
func (u unit) value(v float64) string {
	return fmt.Sprintf(u.format, v) + " " + u.name
}

// A target is a goal for a row. It is reported, never enforced.
type target struct {
	kind  targetKind
	limit float64
}

type targetKind int

const (
	// noTarget rows are for information.
	noTarget targetKind = iota
	// ratioMin: htapod/direct must be at least limit.
	ratioMin
	// ratioMax: htapod/direct must be at most limit.
	ratioMax
	// addedMax: htapod − direct must be at most limit, in the row's unit.
	addedMax
	// absMax: htapod's figure must be at most limit (no direct figure).
	absMax
)

func ratioAtLeast(x float64) target  { return target{ratioMin, x} }
func ratioAtMost(x float64) target   { return target{ratioMax, x} }
func addedAtMost(x float64) target   { return target{addedMax, x} }
func perConnAtMost(x float64) target { return target{absMax, x} }
func info() target                   { return target{kind: noTarget} }

// describe prints the target for a row in unit u.
func (t target) describe(u unit) string {
	switch t.kind {
	case ratioMin:
		return "≥ " + trim(t.limit)
	case ratioMax:
		return "≤ " + trim(t.limit) + "×"
	case addedMax:
		return "≤ +" + trim(t.limit) + " " + u.name
	case absMax:
		return "≤ " + trim(t.limit) + " " + u.name
	}
	return "(info)"
}

// met says whether figures d (direct) and h (htapod) meet t; ok is false
// when t has nothing to judge.
func (t target) met(d, h float64) (met, ok bool) {
	switch t.kind {
	case ratioMin:
		return h/d >= t.limit, d > 0
	case ratioMax:
		return h/d <= t.limit, d > 0
	case addedMax:
		return h-d <= t.limit, true
	case absMax:
		return h <= t.limit, true
	}
	return false, false
}

// trim prints x without needless zeros.
func trim(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// median returns the median of xs, or NaN for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// A line is one row of the table with its samples.
type line struct {
	row
	samples map[mode][]float64
	// detail is added to htapod's figure (the memory row's RSS).
	detail string
	// err, if not empty, is why the row has no figures.
	err string
}

// cells returns the table's cells for l: workload, direct, htapod,
// ratio, target, met, and a figure for each reference mode in refs.
func (l *line) cells(refs []mode) []string {
	d, h := median(l.samples[direct]), median(l.samples[tapped])
	cell := func(v float64) string {
		if math.IsNaN(v) {
			return "—"
		}
		return l.unit.value(v)
	}
	ratio := "—"
	if !math.IsNaN(d) && !math.IsNaN(h) && d > 0 {
		ratio = fmt.Sprintf("%.2f", h/d)
		if l.unit.lowerBetter {
			ratio += fmt.Sprintf(" (+"+l.unit.format+" %s)", h-d, l.unit.name)
			ratio = strings.Replace(ratio, "+-", "−", 1)
		}
	}
	hc := cell(h)
	if l.detail != "" {
		hc += " " + l.detail
	}
	met := "—"
	if ok, judged := l.target.met(d, h); judged && !math.IsNaN(h) && (l.target.kind == absMax || !math.IsNaN(d)) {
		met = "no"
		if ok {
			met = "yes"
		}
	}
	dc := cell(d)
	if l.err != "" {
		// A mode that never ran successfully has no figure to show.
		if math.IsNaN(d) && l.target.kind != absMax {
			dc = "error"
		}
		if math.IsNaN(h) {
			hc = "error"
		}
	}
	out := []string{l.label, dc, hc, ratio, l.target.describe(l.unit), met}
	for _, m := range refs {
		p := "—"
		if l.ref {
			v := median(l.samples[m])
			p = cell(v)
			if !math.IsNaN(d) && d > 0 && p != "—" {
				if l.unit.lowerBetter {
					p += strings.Replace(fmt.Sprintf(" (%.2f, +"+l.unit.format+" %s)", v/d, v-d, l.unit.name), "+-", "−", 1)
				} else {
					p += fmt.Sprintf(" (%.2f)", v/d)
				}
			}
		}
		out = append(out, p)
	}
	return out
}

// pastaNote judges the second half of a notAbovePasta row's target:
// htapod's median against pasta's. It is "" without both figures.
func (l *line) pastaNote() string {
	h, p := median(l.samples[tapped]), median(l.samples[viaPasta])
	if math.IsNaN(h) || math.IsNaN(p) {
		return ""
	}
	met := "met"
	if h > p {
		met = "not met"
	}
	return fmt.Sprintf("target also ≤ pasta: htapod %s, pasta %s (medians): %s", l.unit.value(h), l.unit.value(p), met)
}

// tableHeader is the first line of the table.
func tableHeader(refs []mode) []string {
	h := []string{"workload", "direct", "htapod", "ratio htapod/direct", "target", "met?"}
	for _, m := range refs {
		h = append(h, m.String()+" (ratio to direct)")
	}
	return h
}

// textTable renders lines as aligned columns for a terminal.
func textTable(lines []*line, refs []mode) string {
	rows := [][]string{tableHeader(refs)}
	for _, l := range lines {
		rows = append(rows, l.cells(refs))
	}
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	var b strings.Builder
	for n, r := range rows {
		for i, c := range r {
			pad := width[i] - len([]rune(c))
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", pad+2))
			}
		}
		b.WriteString("\n")
		if n == 0 {
			for i, w := range width {
				b.WriteString(strings.Repeat("-", w))
				if i < len(width)-1 {
					b.WriteString("  ")
				}
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// markdownTable renders lines as a Markdown table.
func markdownTable(lines []*line, refs []mode) string {
	var b strings.Builder
	head := tableHeader(refs)
	b.WriteString("| " + strings.Join(head, " | ") + " |\n")
	b.WriteString("|" + strings.Repeat(" --- |", len(head)) + "\n")
	for _, l := range lines {
		c := l.cells(refs)
		for i := range c {
			c[i] = strings.ReplaceAll(c[i], "|", `\|`)
		}
		b.WriteString("| " + strings.Join(c, " | ") + " |\n")
	}
	return b.String()
}

// plural says n things.
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}

// byteSize prints a size in KiB, MiB or GiB.
func byteSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + " GiB"
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}
