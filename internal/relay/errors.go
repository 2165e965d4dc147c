package relay

import (
	"errors"
	"fmt"
)

var errPanic = errors.New("dissector panicked")

func panicText(r any) string {
	s := fmt.Sprint(r)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
