package policy

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/htapod/htapod/event"
)

func TestParsePattern(t *testing.T) {
	pre := netip.MustParsePrefix
	tests := []struct {
		in   string
		want Pattern
		str  string // String(), when not in
	}{
		{in: "registry.npmjs.org:443", want: Pattern{Host: "registry.npmjs.org", Port: 443}},
		{in: "*.npmjs.org", want: Pattern{Host: "*.npmjs.org"}},
		{in: "*", want: Pattern{Host: "*"}},
		{in: "WWW.Lab.Test.", want: Pattern{Host: "www.lab.test"}, str: "www.lab.test"},
		{in: "tcp:www.lab.test:443", want: Pattern{Proto: event.TCP, Host: "www.lab.test", Port: 443}},
		{in: "udp:*.lab.test", want: Pattern{Proto: event.UDP, Host: "*.lab.test"}},
		{in: "203.0.113.0/24", want: Pattern{Prefix: pre("203.0.113.0/24")}},
		{in: "203.0.113.7:80", want: Pattern{Prefix: pre("203.0.113.7/32"), Port: 80}},
		{in: "203.0.113.7", want: Pattern{Prefix: pre("203.0.113.7/32")}},
		{in: "udp:203.0.113.0/24:53", want: Pattern{Proto: event.UDP, Prefix: pre("203.0.113.0/24"), Port: 53}},
		{in: "[2001:db8::]/32:53", want: Pattern{Prefix: pre("2001:db8::/32"), Port: 53}},
		{in: "[2001:db8::/32]:53", want: Pattern{Prefix: pre("2001:db8::/32"), Port: 53}, str: "[2001:db8::]/32:53"},
		{in: "[2001:db8::10]:80", want: Pattern{Prefix: pre("2001:db8::10/128"), Port: 80}},
		{in: "[::1]", want: Pattern{Prefix: pre("::1/128")}},
		{in: "2001:db8::/32", want: Pattern{Prefix: pre("2001:db8::/32")}, str: "[2001:db8::]/32"},
		{in: "0.0.0.0/0", want: Pattern{Prefix: pre("0.0.0.0/0")}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePattern(tt.in)
			if err != nil {
				t.Fatalf("ParsePattern(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParsePattern(%q) = %+v; want %+v", tt.in, got, tt.want)
			}
			str := tt.str
			if str == "" {
				str = tt.in
			}
			if got.String() != str {
				t.Errorf("String() = %q; want %q", got.String(), str)
			}
			again, err := ParsePattern(got.String())
			if err != nil || again != got {
				t.Errorf("ParsePattern(String()) = %+v, %v; want %+v", again, err, got)
			}
		})
	}
}

func TestParsePatternErrors(t *testing.T) {
	tests := []struct {
		in   string
		col  int
		want string // part of the message
	}{
		{"", 1, "empty pattern"},
		{"tcp:", 5, "empty pattern"},
		{"www.lab.test:0", 14, "bad port"},
		{"www.lab.test:http", 14, "bad port"},
		{"tcp:www.lab.test:70000", 18, "bad port"},
		{"ww*.lab.test", 3, "'*' may only be the whole first label"},
		{"a.*.test", 3, "'*' may only"},
		{"a..test", 3, "empty label"},
		{"exa mple", 4, "not allowed"},
		{"203.0.113.7/24", 1, "host bits set"},
		{"203.0.113.300", 1, "bad IPv4"},
		{"[2001:db8::", 1, "missing ]"},
		{"[2001:db8::]x", 13, "unexpected"},
		{"[203.0.113.7]", 2, "not an IPv6"},
		{"2001:db8::1:80x", 1, "bad IPv6"},
		{":80", 1, "missing host"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParsePattern(tt.in)
			pe, ok := err.(*PatternError)
			if !ok {
				t.Fatalf("ParsePattern(%q) error = %v; want a *PatternError", tt.in, err)
			}
			if pe.Col != tt.col || !strings.Contains(pe.Msg, tt.want) {
				t.Errorf("ParsePattern(%q) = col %d %q; want col %d, %q", tt.in, pe.Col, pe.Msg, tt.col, tt.want)
			}
		})
	}
}

func TestMatchHost(t *testing.T) {
	tests := []struct {
		glob, name string
		want       bool
	}{
		{"*.lab.test", "www.lab.test", true},
		{"*.lab.test", "a.b.lab.test", true},
		{"*.lab.test", "lab.test", false},
		{"*.lab.test", "xlab.test", false},
		{"www.lab.test", "www.lab.test", true},
		{"www.lab.test", "wwww.lab.test", false},
		{"*", "anything", true},
		{"*", "", false},
	}
	for _, tt := range tests {
		if got := matchHost(tt.glob, tt.name); got != tt.want {
			t.Errorf("matchHost(%q, %q) = %v; want %v", tt.glob, tt.name, got, tt.want)
		}
	}
}
