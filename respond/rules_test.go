package respond

import (
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseMock(t *testing.T) {
	tests := []struct {
		in          string
		status      int
		body, ctype string
		wantErr     bool
	}{
		{in: "~u /api/users=200:@users.json", status: 200, body: "[{\"name\":\"ada\"}]\n", ctype: "application/json"},
		{in: "~d ads.example=204", status: 204},
		{in: "~m POST & ~u /login=401:denied", status: 401, body: "denied", ctype: "text/plain; charset=utf-8"},
		{in: "~u id=123=200:a=b", status: 200, body: "a=b"},
		{in: "~u /x", wantErr: true},
		{in: "~u (=200", wantErr: true},
		{in: "~u /x=200:@missing.json", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseMock(tt.in, "testdata")
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseMock(%q) err = %v; want error %v", tt.in, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if r.Response.Status != tt.status || string(r.Response.Body) != tt.body {
				t.Errorf("ParseMock(%q) = %d %q; want %d %q", tt.in, r.Response.Status, r.Response.Body, tt.status, tt.body)
			}
			if tt.ctype != "" && r.Response.Header.Get("Content-Type") != tt.ctype {
				t.Errorf("content type %q; want %q", r.Response.Header.Get("Content-Type"), tt.ctype)
			}
		})
	}
}

func TestParseFault(t *testing.T) {
	tests := []struct {
		in      string
		want    Fault
		prob    float64
		wantErr bool
	}{
		{in: "~d api.lab.test=delay:200ms", want: Fault{Delay: 200 * time.Millisecond}},
		{in: "~u /slow=throttle:64k", want: Fault{Throttle: 64 << 10}},
		{in: "~u /x=status:503@30%", want: Fault{Status: 503}, prob: 0.3},
		{in: "~u a=b=reset", want: Fault{Reset: true}},
		{in: "~http=timeout", want: Fault{Timeout: true}},
		{in: "~http=delay:1s,throttle:1k", want: Fault{Delay: time.Second, Throttle: 1024}},
		{in: "~d db.lab.test=refuse", want: Fault{Refuse: true}},
		{in: "~d db.lab.test=blackhole@50%", want: Fault{Blackhole: true}, prob: 0.5},
		{in: "~d db.lab.test=refuse,delay:1s", wantErr: true},
		{in: "~http=explode", wantErr: true},
		{in: "~http=status:abc", wantErr: true},
		{in: "~http=reset@0%", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseFault(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseFault(%q) err = %v; want error %v", tt.in, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if *r.Fault != tt.want || r.Probability != tt.prob {
				t.Errorf("ParseFault(%q) = %+v @%v; want %+v @%v", tt.in, *r.Fault, r.Probability, tt.want, tt.prob)
			}
		})
	}
}

func TestRules(t *testing.T) {
	var rules []Rule
	for _, s := range []string{"~u /api/users=200:@users.json", "~m POST & ~u /login=401:denied", "~u /tls-only & ~tls=204"} {
		r, err := ParseMock(s, "testdata")
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, r)
	}
	f, _ := ParseFault("~d slow.lab.test=delay:1s")
	rules = append(rules, f)
	decide := Rules(rules, nil)
	tests := []struct {
		method, url string
		status      int // 0: forwarded
		fault       bool
		action      string
	}{
		{"GET", "https://www.lab.test/api/users", 200, false, "mock"},
		{"POST", "https://www.lab.test/login", 401, false, "mock"},
		{"GET", "https://www.lab.test/login", 0, false, ""},
		{"GET", "https://slow.lab.test/api/users", 200, true, "mock, fault delay:1s"},
		{"GET", "https://slow.lab.test/", 0, true, "fault delay:1s"},
		{"GET", "https://www.lab.test/tls-only", 204, false, "mock"}, // ~tls: inside (intercepted) TLS
		{"GET", "http://www.lab.test/tls-only", 0, false, ""},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, tt.url, strings.NewReader(""))
		d := decide(r)
		status := 0
		if d.Response != nil {
			status = d.Response.Status
		}
		if status != tt.status || (d.Fault != nil) != tt.fault || d.Action != tt.action {
			t.Errorf("%s %s = %d fault %v %q; want %d %v %q", tt.method, tt.url, status, d.Fault != nil, d.Action, tt.status, tt.fault, tt.action)
		}
	}
}

func TestParseMockFile(t *testing.T) {
	rules, err := ParseMockFile("testdata/api.mock")
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 2 {
		t.Fatalf("%d rules; want 2", len(rules))
	}
	h := rules[0].Response.Header
	if h.Get("Cache-Control") != "no-store" || h.Get("X-Env") != "test" || h.Get("Content-Type") != "application/json" {
		t.Errorf("first rule's header = %v; want Cache-Control, X-Env and the JSON type", h)
	}
	if rules[1].Response.Status != 204 {
		t.Errorf("second rule's status = %d; want 204", rules[1].Response.Status)
	}
	bad := filepath.Join(t.TempDir(), "bad.mock")
	os.WriteFile(bad, []byte("~u /x=200\n~u /y\n"), 0o644)
	if _, err := ParseMockFile(bad); err == nil || !strings.Contains(err.Error(), "bad.mock:2:") {
		t.Errorf("ParseMockFile(bad) = %v; want an error at line 2", err)
	}
}

func TestConnectFault(t *testing.T) {
	var rules []Rule
	for _, s := range []string{"~u /x=status:500", "~d db.lab.test=refuse", "~d 203.0.113.99=blackhole"} {
		r, err := ParseFault(s)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, r)
	}
	tests := []struct {
		dst, name string
		want      string // the rule's action, "" for none
	}{
		{"203.0.113.20:5432", "db.lab.test", "fault refuse"},
		{"203.0.113.99:443", "", "fault blackhole"},
		{"203.0.113.10:80", "www.lab.test", ""},
	}
	for _, tt := range tests {
		got := ""
		if r := ConnectFault(rules, netip.MustParseAddrPort(tt.dst), tt.name); r != nil {
			got = r.Action
		}
		if got != tt.want {
			t.Errorf("ConnectFault(%s %q) = %q; want %q", tt.dst, tt.name, got, tt.want)
		}
	}
	// A connect-time rule never acts on a request.
	r := httptest.NewRequest("GET", "http://db.lab.test/", nil)
	if d := Rules(rules, nil)(r); d.Fault != nil || d.Action != "" {
		t.Errorf("a request to db.lab.test got %+v; want it forwarded", d)
	}
}
