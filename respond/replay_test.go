package respond

import (
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/sink/har"
)

// record writes exchanges to a HAR file with htapod's own writer and
// returns its path.
func record(t *testing.T, hs ...*event.HTTP) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run.har")
	w, err := har.New(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		w.Handle(h)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func exchange(method, url, reqBody string, status int, body []byte, hdr ...event.Header) *event.HTTP {
	now := time.Now()
	scheme, rest, _ := strings.Cut(url, "://")
	auth, path, _ := strings.Cut(rest, "/")
	return &event.HTTP{Phase: event.PhaseDone, Proto: "HTTP/1.1", Scheme: scheme, Method: method,
		Authority: auth, Path: "/" + path, Status: status, RespHeader: hdr,
		ReqBody:  event.Body{Size: int64(len(reqBody)), Data: []byte(reqBody), DecodedSize: int64(len(reqBody))},
		RespBody: event.Body{Size: int64(len(body)), Data: body, DecodedSize: int64(len(body))},
		Start:    now, RespStart: now, End: now, Server: netip.MustParseAddrPort("203.0.113.10:443")}
}

func TestReplay(t *testing.T) {
	binary := []byte{0, 1, 2, 0xff, 0xfe}
	path := record(t,
		exchange("GET", "https://www.lab.test/a", "", 200, []byte("first")),
		exchange("GET", "https://www.lab.test/a", "", 200, []byte("second")),
		exchange("GET", "https://www.lab.test/bin?t=1", "", 200, binary),
		exchange("POST", "https://www.lab.test:443/api", `{"x":1}`, 201, []byte("created x"),
			event.Header{Name: "Content-Encoding", Value: "gzip"}, event.Header{Name: "Transfer-Encoding", Value: "chunked"}),
		exchange("POST", "https://www.lab.test/api", `{"x":2}`, 201, []byte("created 2")),
	)
	tests := []struct {
		name        string
		opts        ReplayOptions
		method, url string
		body        string
		want        []string // bodies of successive requests; "MISS" for a miss
	}{
		{"in order", ReplayOptions{}, "GET", "https://www.lab.test/a", "", []string{"first", "second", "second"}},
		{"keep last", ReplayOptions{KeepLast: true}, "GET", "https://www.lab.test/a", "", []string{"second", "second"}},
		{"binary", ReplayOptions{}, "GET", "https://www.lab.test/bin?t=1", "", []string{string(binary)}},
		{"query differs", ReplayOptions{}, "GET", "https://www.lab.test/bin?t=2", "", []string{"MISS"}},
		{"query ignored", ReplayOptions{IgnoreParams: []string{"t"}}, "GET", "https://www.lab.test/bin?t=2", "", []string{string(binary)}},
		{"default port", ReplayOptions{}, "GET", "https://WWW.lab.test:443/a", "", []string{"first"}},
		{"body matched", ReplayOptions{MatchBody: true}, "POST", "https://www.lab.test/api", `{"x":2}`, []string{"created 2"}},
		{"body not matched", ReplayOptions{}, "POST", "https://www.lab.test/api", `{"x":2}`, []string{"created x", "created 2"}},
		{"miss", ReplayOptions{}, "GET", "https://other.lab.test/", "", []string{"MISS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp, err := LoadReplay(path, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range tt.want {
				r := httptest.NewRequest(tt.method, tt.url, strings.NewReader(tt.body))
				r.URL.Scheme, r.URL.Host = "https", r.Host
				d := rp.Decide(r)
				if want == "MISS" {
					if d.Response == nil || d.Response.Status != MissStatus || d.Response.Header.Get("X-Htapod-Replay") != "miss" ||
						!strings.Contains(string(d.Response.Body), "no recorded response for "+tt.method) {
						t.Errorf("request %d: %+v; want the miss response", i, d.Response)
					}
					continue
				}
				if d.Response == nil || string(d.Response.Body) != want || d.Action != "replay" {
					t.Errorf("request %d: %+v %q; want body %q", i, d.Response, d.Action, want)
				}
			}
		})
	}
	rp, _ := LoadReplay(path, ReplayOptions{})
	if got := rp.Hosts["www.lab.test"]; len(got) != 1 || got[0] != netip.MustParseAddr("203.0.113.10") {
		t.Errorf("Hosts[www.lab.test] = %v; want [203.0.113.10]", got)
	}
	r := httptest.NewRequest("POST", "https://www.lab.test/api", strings.NewReader(""))
	r.URL.Scheme, r.URL.Host = "https", r.Host
	d := rp.Decide(r)
	if !d.Response.Chunked || d.Response.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("POST /api replayed with chunked %v, encoding %q; want chunked, gzip", d.Response.Chunked, d.Response.Header.Get("Content-Encoding"))
	}
}
