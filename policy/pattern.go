package policy

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/htapod/htapod/event"
)

// Pattern is what a rule matches: a transport (or any), a host glob or an
// address prefix, and a port (or any).
type Pattern struct {
	// Proto is event.TCP, event.UDP or "" for both.
	Proto event.Proto
	// Host is a lower-case host name without a final dot: an exact name
	// ("registry.npmjs.org"), a glob "*.npmjs.org" (any name below
	// npmjs.org, not npmjs.org itself) or "*" (any name). Empty when
	// Prefix is set.
	Host string
	// Prefix is the address range (a single address is a /32 or /128).
	// Invalid when Host is set.
	Prefix netip.Prefix
	// Port is the destination port, 0 for any.
	Port uint16
}

// PatternError is a pattern that does not parse. Col is the 1-based byte
// offset in the pattern where the problem is.
type PatternError struct {
	Col int
	Msg string
}

func (e *PatternError) Error() string { return e.Msg }

func patErr(col int, format string, args ...any) *PatternError {
	return &PatternError{Col: col, Msg: fmt.Sprintf(format, args...)}
}

// ParsePattern parses one pattern:
//
//	[tcp:|udp:] HOST [:PORT]          registry.npmjs.org:443, *.lab.test, *
//	[tcp:|udp:] IPV4[/BITS] [:PORT]   203.0.113.7:80, 203.0.113.0/24
//	[tcp:|udp:] [IPV6][/BITS] [:PORT] [2001:db8::]/32:53, [::1]:8080
//	[tcp:|udp:] IPV6[/BITS]           2001:db8::/32 (no port without brackets)
//
// Host names are case-insensitive; a final dot is ignored.
func ParsePattern(s string) (Pattern, error) {
	var p Pattern
	col := 1
	for _, proto := range []event.Proto{event.TCP, event.UDP} {
		if rest, ok := strings.CutPrefix(s, string(proto)+":"); ok {
			p.Proto, s, col = proto, rest, col+len(proto)+1
			break
		}
	}
	if s == "" {
		return p, patErr(col, "empty pattern")
	}
	if s[0] == '[' {
		return parseBracketed(p, s, col)
	}
	// A bare IPv6 address or prefix: more than one colon.
	if strings.Count(s, ":") > 1 {
		pre, err := parsePrefix(s)
		if err != nil {
			return p, patErr(col, "bad IPv6 address %q (write [ADDR]:PORT for a port): %v", s, err)
		}
		p.Prefix = pre
		return p, nil
	}
	host, port, hasPort := strings.Cut(s, ":")
	if hasPort {
		n, err := parsePort(port)
		if err != nil {
			return p, patErr(col+len(host)+1, "%v", err)
		}
		p.Port = n
	}
	if host == "" {
		return p, patErr(col, "missing host or address before the port")
	}
	if looksIPv4(host) {
		pre, err := parsePrefix(host)
		if err != nil {
			return p, patErr(col, "bad IPv4 address %q: %v", host, err)
		}
		p.Prefix = pre
		return p, nil
	}
	h, err := parseHost(host)
	if err != nil {
		err.Col += col - 1
		return p, err
	}
	p.Host = h
	return p, nil
}

// parseBracketed parses "[ADDR]", "[ADDR]/BITS", "[ADDR/BITS]" and any of
// them followed by ":PORT".
func parseBracketed(p Pattern, s string, col int) (Pattern, error) {
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return p, patErr(col, "missing ] after the IPv6 address")
	}
	addr, rest := s[1:end], s[end+1:]
	if strings.HasPrefix(rest, "/") {
		bits, _, _ := strings.Cut(rest, ":")
		addr += bits
		rest = rest[len(bits):]
	}
	pre, err := parsePrefix(addr)
	if err != nil || !pre.Addr().Is6() {
		if err == nil {
			err = fmt.Errorf("not an IPv6 address")
		}
		return p, patErr(col+1, "bad IPv6 address %q: %v", addr, err)
	}
	p.Prefix = pre
	if rest == "" {
		return p, nil
	}
	if rest[0] != ':' {
		return p, patErr(col+len(s)-len(rest), "unexpected %q after the address (want :PORT)", rest)
	}
	n, perr := parsePort(rest[1:])
	if perr != nil {
		return p, patErr(col+len(s)-len(rest)+1, "%v", perr)
	}
	p.Port = n
	return p, nil
}

// parsePrefix parses an address or a prefix; the prefix must have no bits
// set past its length (203.0.113.0/24, not 203.0.113.7/24).
func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("zones are not supported")
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	pre, err := netip.ParsePrefix(s)
	if err != nil {
		return pre, err
	}
	if pre.Masked() != pre {
		return pre, fmt.Errorf("host bits set (did you mean %s?)", pre.Masked())
	}
	if pre.Addr().Is4In6() {
		return pre, fmt.Errorf("write IPv4-mapped ranges as IPv4")
	}
	return pre, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("bad port %q (want 1-65535)", s)
	}
	return uint16(n), nil
}

// looksIPv4 says s is digits, dots and perhaps a /: meant as an address.
func looksIPv4(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && c != '.' && c != '/' {
			return false
		}
	}
	return true
}

// parseHost checks a host glob and returns it lower-case without a final
// dot. A '*' may only be the whole first label.
func parseHost(h string) (string, *PatternError) {
	if h == "*" {
		return h, nil
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if len(h) > 253 {
		return "", patErr(1, "host name longer than 253 bytes")
	}
	rest, start := h, 0
	if r, ok := strings.CutPrefix(h, "*."); ok {
		rest, start = r, 2
	}
	if rest == "" {
		return "", patErr(1, "empty host name")
	}
	for _, label := range strings.Split(rest, ".") {
		if label == "" {
			return "", patErr(start+1, "empty label in host name %q", h)
		}
		if len(label) > 63 {
			return "", patErr(start+1, "label %q longer than 63 bytes", label)
		}
		for j := 0; j < len(label); j++ {
			c := label[j]
			switch {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			case c == '*':
				return "", patErr(start+j+1, "'*' may only be the whole first label (*.example.com)")
			default:
				return "", patErr(start+j+1, "character %q not allowed in a host name", c)
			}
		}
		start += len(label) + 1
	}
	return h, nil
}

// String is the pattern as ParsePattern reads it back.
func (p Pattern) String() string {
	var b strings.Builder
	if p.Proto != "" {
		b.WriteString(string(p.Proto) + ":")
	}
	switch {
	case p.Host != "":
		b.WriteString(p.Host)
	case p.Prefix.Addr().Is6():
		b.WriteString("[" + p.Prefix.Addr().String() + "]")
		if p.Prefix.Bits() != 128 {
			b.WriteString("/" + strconv.Itoa(p.Prefix.Bits()))
		}
	case p.Prefix.IsValid():
		if p.Prefix.IsSingleIP() {
			b.WriteString(p.Prefix.Addr().String())
		} else {
			b.WriteString(p.Prefix.String())
		}
	}
	if p.Port != 0 {
		b.WriteString(":" + strconv.Itoa(int(p.Port)))
	}
	return b.String()
}

// matchHost says whether name (lower-case, no final dot) matches the glob.
func matchHost(glob, name string) bool {
	if name == "" {
		return false
	}
	if glob == "*" {
		return true
	}
	if suffix, ok := strings.CutPrefix(glob, "*."); ok {
		return len(name) > len(suffix) && strings.HasSuffix(name, suffix) && name[len(name)-len(suffix)-1] == '.'
	}
	return glob == name
}
