package filter

import (
	"strings"
	"testing"

	"github.com/htapod/htapod/event"
)

// matchTests are expressions and the samples they match (by name, in
// the order of samples).
var matchTests = []struct {
	expr, want string
}{
	// The example: the request event matches too, having no
	// status yet (see NeedsDone).
	{"~d api.lab.test & ~m POST & !~c 2..", "postReq post"},

	{"~d api.lab.test", "postReq post post201 dnsUDP"},
	{`~d ^www\.lab\.test$`, "get tls flowTCP"}, // the port is not part of it
	{"~d WWW.LAB", "get tls flowTCP"},
	{`~d ^203\.0\.113\.10$`, "get tls flowTCP"},
	{`~d 198\.51\.100\.7`, "flowUDP"},
	{`~d big\.lab\.test$`, "dnsTCP"}, // without the final dot
	{"~d lab.test", "get postReq post post201 dnsUDP dnsTCP upgrade tls flowTCP"},
	{`~d ''`, "get postReq post post201 dnsUDP dnsTCP upgrade tls flowTCP flowUDP"},

	{`~u ^https://www\.lab\.test:8443/old\?page=2$`, "get"},
	{"~u /v1/", "postReq post post201"},
	{"~m post", "postReq post post201"},
	{"~m ^GET$", "get upgrade"},

	{"~c 301", "get"},
	{"~c 3xx", "get"},
	{"~c 5..", "post"},
	{"~c 200..299", "post201"},
	{"~c 300..", "get post"},
	{"~c ..299", "post201 upgrade"},
	{"!~c 2..", "get postReq post dnsUDP dnsTCP upgrade wsUp wsDown wsEnd tls flowTCP flowUDP notice unparsed"},

	{"~h '^server: nginx$'", "get"},
	{"~h authorization", "postReq post post201"},
	{"~hq accept-encoding", "get"},
	{"~hs accept-encoding", ""},
	{"~hs 'location: /new'", "get"},
	{"~hq upgrade", "upgrade"},
	{"~hs ^upgrade:", "upgrade"},

	{"~b tok-ABC", "get"},
	{"~bq tok", ""},
	{"~bs tok", "get"},
	{"~b qty=1", "post post201"},
	{"~bs qty", ""},
	{"~bq subscribe", "wsUp"},
	{"~bs subscribe", ""},
	{"~bs hello", "wsDown"},
	{"~b 'hello|subscribe'", "wsUp wsDown"},
	{"~b going", ""}, // a close reason is not a payload

	{"~t json", "get"},
	{"~t charset=utf-8", "get"}, // the Content-Type field, with parameters
	{"~tq form", "postReq post post201"},
	{"~ts form", ""},
	{"~ts plain", "post post201"},

	{"~q", "postReq"},
	{"~s", "get post post201 upgrade"},
	{"~http", "get postReq post post201 upgrade"},
	{"~websocket", "upgrade wsUp wsDown wsEnd"},
	{"~dns", "dnsUDP dnsTCP"},
	{"~tls", "get tls"}, // get was carried in intercepted TLS
	{"~tls & !~http", "tls"},
	{"~tcp", "get postReq post post201 dnsTCP upgrade wsUp wsDown wsEnd tls flowTCP"},
	{"~udp", "dnsUDP flowUDP"},

	{"~g Ada", "wsDown"},
	{"~g ada", ""}, // case-sensitive
	{"~g '(?i)ada'", "wsDown"},

	{"~dns | ~udp", "dnsUDP dnsTCP flowUDP"},
	{"~http & !~s", "postReq"},
	{"~d lab.test ~s", "get post post201 upgrade"},
	{"(~d api | ~d www) & ~c 3xx | ~dns", "get dnsUDP dnsTCP"},
	{"~d api | ~d www & ~c 3xx", "get postReq post post201 dnsUDP"},
	{"!~http & !~dns & !~websocket & !~tls & !~tcp & !~udp", "notice unparsed"},
	{"!!~tls", "get tls"},
}

func TestMatch(t *testing.T) {
	for _, tt := range matchTests {
		t.Run(tt.expr, func(t *testing.T) {
			f, err := Parse(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			if got := matching(f); got != tt.want {
				t.Errorf("Parse(%q) matches %q; want %q", tt.expr, got, tt.want)
			}
		})
	}
}

// matching names the samples f matches.
func matching(f *Filter) string {
	var names []string
	for _, s := range samples {
		if f.Match(s.e) {
			names = append(names, s.name)
		}
	}
	return strings.Join(names, " ")
}

func TestMatchNil(t *testing.T) {
	var all *Filter
	if got, want := matching(all), matching(mustParse(t, "~tls | !~tls")); got != want {
		t.Errorf("nil Filter matches %q; want every sample, %q", got, want)
	}
	f := mustParse(t, "!~tls")
	for _, e := range []event.Event{nil, (*event.HTTP)(nil), (*event.Flow)(nil), (*event.Notice)(nil)} {
		if f.Match(e) || all.Match(e) {
			t.Errorf("Match(%#v) = true; want false", e)
		}
	}
}

func TestNeedsDone(t *testing.T) {
	tests := []struct {
		expr string
		want bool
	}{
		{"~d api & ~u /v1 & ~m POST", false},
		{"~http | ~dns | ~tls | ~tcp | ~udp", false},
		{"~d api.lab.test & ~m POST & !~c 2..", true},
		{"~d a | ~s", true},
		{"~q", true},
		{"~hq x", true}, // request trailers come at the end
		{"~b x", true},
		{"~t json", true},
		{"~websocket", true},
		{"~g x", true},
	}
	for _, tt := range tests {
		if got := mustParse(t, tt.expr).NeedsDone(); got != tt.want {
			t.Errorf("Parse(%q).NeedsDone() = %v; want %v", tt.expr, got, tt.want)
		}
	}
	if (*Filter)(nil).NeedsDone() {
		t.Error("nil.NeedsDone() = true; want false")
	}
}

// TestReadsBodies: the terms that match body or message bytes say so,
// anywhere in the expression (negated, or'ed), and Grep's does.
func TestReadsBodies(t *testing.T) {
	for _, tt := range []struct {
		expr string
		want bool
	}{
		{"~d api & ~m POST & !~c 2..", false},
		{"~t json | ~h x-token", false},
		{"~websocket & ~d ws", false},
		{"~d a & !~bs error", true},
		{"~d a | (~m GET & ~bq x)", true},
		{"~b x", true},
		{"~g secret", true},
	} {
		if got := mustParse(t, tt.expr).ReadsBodies(); got != tt.want {
			t.Errorf("Parse(%q).ReadsBodies() = %v; want %v", tt.expr, got, tt.want)
		}
	}
	g, err := Grep("api_key")
	if err != nil || !g.ReadsBodies() || (*Filter)(nil).ReadsBodies() {
		t.Errorf("Grep(...).ReadsBodies() false (err %v), or nil's true", err)
	}
}

func mustParse(tb testing.TB, expr string) *Filter {
	tb.Helper()
	f, err := Parse(expr)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}
