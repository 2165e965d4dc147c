package filter

import (
	"strconv"
	"strings"

	"github.com/htapod/htapod/event"
)

// codeNode is ~c: statuses from lo to hi, both included.
type codeNode struct {
	lo, hi int
	// class says the argument was a class (4xx, 4..), printed as 4xx.
	class bool
}

// Status codes are three digits (RFC 9110 §15).
const (
	minCode = 100
	maxCode = 999
)

func (n codeNode) match(e event.Event) bool {
	h, ok := e.(*event.HTTP)
	return ok && h.Status != 0 && n.lo <= h.Status && h.Status <= n.hi
}

// String renders the argument in normal form.
func (n codeNode) String() string {
	switch {
	case n.class:
		return strconv.Itoa(n.lo/100) + "xx"
	case n.lo == n.hi:
		return strconv.Itoa(n.lo)
	case n.lo == minCode:
		return ".." + strconv.Itoa(n.hi)
	case n.hi == maxCode:
		return strconv.Itoa(n.lo) + ".."
	}
	return strconv.Itoa(n.lo) + ".." + strconv.Itoa(n.hi)
}

// parseCode reads the argument of ~c: 404, 4xx, 4.., 400..404, 400.. or
// ..399.
func parseCode(s string) (codeNode, bool) {
	if len(s) == 3 && s[0] >= '1' && s[0] <= '9' {
		if rest := strings.ToLower(s[1:]); rest == "xx" || rest == ".." {
			lo := int(s[0]-'0') * 100
			return codeNode{lo: lo, hi: lo + 99, class: true}, true
		}
	}
	los, his, isRange := strings.Cut(s, "..")
	if !isRange {
		c, ok := code(s)
		return codeNode{lo: c, hi: c}, ok
	}
	if los == "" && his == "" {
		return codeNode{}, false
	}
	n := codeNode{lo: minCode, hi: maxCode}
	var ok bool
	if los != "" {
		if n.lo, ok = code(los); !ok {
			return codeNode{}, false
		}
	}
	if his != "" {
		if n.hi, ok = code(his); !ok {
			return codeNode{}, false
		}
	}
	return n, n.lo <= n.hi
}

// code reads a three-digit status code.
func code(s string) (int, bool) {
	if len(s) != 3 {
		return 0, false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	c, _ := strconv.Atoi(s)
	return c, c >= minCode
}
