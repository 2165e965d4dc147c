package filter

import (
	"errors"
	"reflect"
	"testing"
)

func TestGrep(t *testing.T) {
	tests := []struct {
		pattern, want string
	}{
		{"lab.test", "get postReq post post201 dnsUDP dnsTCP upgrade tls flowTCP"},
		{`/old\?page=2`, "get"},                     // URL
		{"X-Request-Id: r-17", "get"},               // request header line
		{"^Server: nginx$", "get"},                  // response header line
		{"server: nginx", ""},                       // case-sensitive
		{"Tok-abc123", "get"},                       // decoded response body
		{"qty=1", "post post201"},                   // request body
		{"Bearer", "postReq post post201"},          // header value
		{"alias", "dnsTCP"},                         // DNS answer
		{`^203\.0\.113\.20$`, "dnsUDP"},             // DNS answer, not the HTTP server
		{"subscribe|Ada", "wsUp wsDown"},            // WebSocket payloads
		{"going away", "wsEnd"},                     // close reason
		{`198\.51\.100\.7:5353`, "flowUDP"},         // flow destination
		{"certificate", ""},                         // notices are not searched
		{"(?i)SUBSCRIBE", "wsUp"},                   // (?i) ignores case
		{"h2", ""},                                  // ALPN, protocol: not searched
		{"www.lab.test$", "tls flowTCP"},            // SNI, flow name
		{`^https://www\.lab\.test:8443/old`, "get"}, // URL anchored
		{"Moved", ""},                               // reason phrase: not searched
		{"text/plain", "post post201"},              // response header
		{"upstream down", "post"},                   // response body
		{"^Upgrade: websocket$", "upgrade"},         // 101 headers
		{"gzip", "get"},                             // header values
		{"application/x-www-form-urlencoded", "postReq post post201"},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			f, err := Grep(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			if got := matching(f); got != tt.want {
				t.Errorf("Grep(%q) matches %q; want %q", tt.pattern, got, tt.want)
			}
		})
	}
}

func TestGrepString(t *testing.T) {
	for pattern, want := range map[string]string{
		"Ada":         "~g Ada",
		"hello world": "~g 'hello world'",
		"a|b":         "~g 'a|b'",
	} {
		f, err := Grep(pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.String(); got != want {
			t.Errorf("Grep(%q).String() = %q; want %q", pattern, got, want)
		}
		if g := mustParse(t, f.String()); matching(g) != matching(f) {
			t.Errorf("Parse(%q) matches %q; want what Grep(%q) matches, %q", f, matching(g), pattern, matching(f))
		}
	}
}

func TestGrepError(t *testing.T) {
	_, err := Grep("a(b")
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("Grep(%q) = %v; want a *SyntaxError", "a(b", err)
	}
	want := "--grep: bad regex for ~g: missing closing ): `a(b` at column 1\n" +
		"  a(b\n" +
		"  ^"
	if err.Error() != want {
		t.Errorf("Grep error =\n%v\nwant\n%s", err, want)
	}
}

func TestAnd(t *testing.T) {
	filt := mustParse(t, "~d lab.test | ~udp")
	grep, err := Grep("Ada|Tok")
	if err != nil {
		t.Fatal(err)
	}
	f := And(filt, nil, grep)
	if got, want := f.String(), "(~d lab.test | ~udp) & ~g 'Ada|Tok'"; got != want {
		t.Errorf("And().String() = %q; want %q", got, want)
	}
	if got, want := matching(f), "get"; got != want {
		t.Errorf("And() matches %q; want %q", got, want)
	}
	if And(nil, nil) != nil || And() != nil {
		t.Error("And of nil filters is not nil")
	}
	if g := And(nil, filt); g.String() != filt.String() {
		t.Errorf("And(nil, f) = %v; want %v", g, filt)
	}
	if g := And(mustParse(t, "~d a & ~m b"), mustParse(t, "~c 404 ~s")); g.String() != "~d a & ~m b & ~c 404 & ~s" {
		t.Errorf("And of two ands = %v; want them flattened", g)
	}
}

func TestHighlight(t *testing.T) {
	grep := func(p string) *Filter {
		f, err := Grep(p)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	tests := []struct {
		name string
		f    *Filter
		line string
		want []Span
	}{
		{"none", grep("Ada"), "hello world", nil},
		{"one", grep("Ada"), "hello Ada", []Span{{6, 9}}},
		{"several", grep("a."), "banana", []Span{{1, 5}}}, // an, an touch: merged
		{"apart", grep("o"), "foo bar boo", []Span{{1, 3}, {9, 11}}},
		{"bytes not runes", grep("é+"), "café éé", []Span{{3, 5}, {6, 10}}},
		{"empty matches skipped", grep("x*"), "abxxc", []Span{{2, 4}}},
		{"case-sensitive", grep("ada"), "Ada", nil},
		{"not a grep", mustParse(t, "~d Ada"), "Ada", nil},
		{"nil", nil, "Ada", nil},
		{"~g terms merged", mustParse(t, "~g foo | ~d x & ~g oba"), "foobar", []Span{{0, 5}}},
		{"negated ~g left out", mustParse(t, "~g foo & !~g bar"), "foobar", []Span{{0, 3}}},
		{"double negation counts", mustParse(t, "!!~g bar"), "foobar", []Span{{3, 6}}},
		{"with a filter", And(mustParse(t, "~http"), grep("b")), "abc", []Span{{1, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.Highlight(tt.line); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Highlight(%q) of %q = %v; want %v", tt.line, tt.f, got, tt.want)
			}
		})
	}
}
