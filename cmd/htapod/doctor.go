package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/htapod/htapod"
)

// doctor prints what htapod needs from this machine and whether it has it.
func doctor(w io.Writer) int {
	fmt.Fprintln(w, "htapod doctor")
	code := 0
	for _, c := range htapod.Doctor() {
		mark := "ok  "
		if !c.OK {
			mark, code = "FAIL", 1
		}
		fmt.Fprintf(w, "  %s  %-16s %s\n", mark, c.Name, c.Detail)
		if c.Fix != "" {
			for _, line := range strings.Split(c.Fix, "\n") {
				fmt.Fprintf(w, "        %s\n", strings.TrimSpace(line))
			}
		}
	}
	if code == 0 {
		fmt.Fprintln(w, "All good: try `htapod demo`.")
	}
	return code
}
