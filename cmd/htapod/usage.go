package main

import (
	"fmt"
	"strings"

	flag "github.com/spf13/pflag"
)

// flagUsages lists the flags as GNU tools do: a boolean flag is a plain
// switch (--headers, not --headers[=true|false]); a flag that takes a
// value shows its name (--output FILE), and an optional one in brackets
// (--summary[=WHEN]).
func flagUsages(fs *flag.FlagSet) string {
	type row struct{ left, right string }
	var rows []row
	width := 0
	fs.VisitAll(func(f *flag.Flag) {
		if f.Hidden {
			return
		}
		left := "      --" + f.Name
		if f.Shorthand != "" {
			left = "  -" + f.Shorthand + ", --" + f.Name
		}
		name, text := flag.UnquoteUsage(f)
		switch {
		case f.Value.Type() == "bool":
		case f.NoOptDefVal != "":
			left += "[=" + name + "]"
		case name != "":
			left += " " + name
		}
		if d := f.DefValue; f.Value.Type() != "bool" && d != "" && d != "0" && d != "[]" {
			text += fmt.Sprintf(" (default %s)", d)
		}
		rows = append(rows, row{left, text})
		width = max(width, len(left))
	})
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%-*s   %s\n", width, r.left, r.right)
	}
	return b.String()
}
