package main

import (
	"fmt"
	"io"
)

func doctor(w io.Writer) int {
	fmt.Fprintln(w, "htapod doctor: not written yet")
	return 1
}

func demo(w io.Writer) int {
	fmt.Fprintln(w, "htapod demo: not written yet")
	return 1
}
