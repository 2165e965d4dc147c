package har

import (
	"encoding/base64"
	"math"
	"reflect"
	"testing"
	"time"
)

func TestEntries(t *testing.T) {
	f := readHAR(t, writeSamples(t))
	if len(f.Log.Entries) != len(samples) {
		t.Fatalf("%d entries; want %d (one per done exchange, nothing else)", len(f.Log.Entries), len(samples))
	}
	if f.Log.Pages == nil {
		t.Errorf("pages missing; want []")
	}
	tests := []struct {
		name  string
		check func(t *testing.T, e *harEntry)
	}{
		{"GET with query, cookies and gzip JSON", func(t *testing.T, e *harEntry) {
			r, s := &e.Request, &e.Response
			want(t, "startedDateTime", e.StartedDateTime, "2026-01-02T03:04:05.123Z")
			want(t, "method", r.Method, "GET")
			want(t, "url", r.URL, "https://api.lab.test/v1/items?page=2&q=a%20b&flag&q=c+d")
			want(t, "httpVersion", r.HTTPVersion, "HTTP/1.1")
			want(t, "queryString", r.QueryString, []harPair{{"page", "2"}, {"q", "a b"}, {"flag", ""}, {"q", "c d"}})
			want(t, "request cookies", r.Cookies, []harCookie{{Name: "sid", Value: "abc123"}, {Name: "theme", Value: "dark"}})
			want(t, "request headers", len(r.Headers), 4)
			want(t, "request headersSize", r.HeadersSize, int64(-1))
			want(t, "request bodySize", r.BodySize, int64(0))
			want(t, "postData", r.PostData == nil, true)
			want(t, "status", s.Status, 200)
			want(t, "statusText", s.StatusText, "OK")
			want(t, "response cookies", s.Cookies, []harCookie{
				{Name: "sid", Value: "def456", Path: "/", Domain: "lab.test", Expires: "2026-01-02T04:04:05.161Z", HTTPOnly: true, Secure: true},
				{Name: "seen", Value: "1", Expires: "2026-10-21T07:28:00.000Z"}})
			c := s.Content
			want(t, "content.size", c.Size, int64(len(itemsJSON)))
			wire := int64(len(gzipped(itemsJSON)))
			want(t, "bodySize", s.BodySize, wire)
			if c.Compression == nil || *c.Compression != int64(len(itemsJSON))-wire || *c.Compression <= 0 {
				t.Errorf("content.compression = %v; want %d", c.Compression, int64(len(itemsJSON))-wire)
			}
			want(t, "content.mimeType", c.MimeType, "application/json; charset=utf-8")
			want(t, "content.text", c.Text, string(itemsJSON))
			want(t, "content.encoding", c.Encoding, "")
			want(t, "redirectURL", s.RedirectURL, "")
			want(t, "response headersSize", s.HeadersSize, int64(-1))
			want(t, "timings", e.Timings, timingsOf(-1, 0, 38, 2.5))
			want(t, "time", e.Time, 40.5)
			want(t, "serverIPAddress", e.ServerIPAddress, "203.0.113.10")
			want(t, "connection", e.Connection, "7")
			want(t, "cache", e.Cache != nil, true)
			want(t, "pageref", e.Pageref == nil, true)
			want(t, "_error", s.Error, "")
		}},
		{"POST form with redirect", func(t *testing.T, e *harEntry) {
			r, s := &e.Request, &e.Response
			want(t, "queryString", r.QueryString, []harPair{})
			want(t, "bodySize", r.BodySize, int64(len(formBody)))
			if r.PostData == nil {
				t.Fatal("postData missing")
			}
			want(t, "postData.mimeType", r.PostData.MimeType, "application/x-www-form-urlencoded; charset=utf-8")
			want(t, "postData.params", r.PostData.Params, []harPair{{"name", "Jürgen M"}, {"tag", "a"}, {"tag", "b"}, {"empty", ""}})
			want(t, "postData.text", r.PostData.Text, string(formBody))
			want(t, "postData._encoding", r.PostData.Encoding, "")
			want(t, "status", s.Status, 302)
			want(t, "redirectURL", s.RedirectURL, "/home?welcome=1")
			want(t, "content", [2]any{s.Content.Size, s.Content.MimeType}, [2]any{int64(0), "x-unknown"})
			want(t, "time", e.Time, 5.0)
		}},
		{"binary bodies", func(t *testing.T, e *harEntry) {
			r, s := &e.Request, &e.Response
			want(t, "url", r.URL, "http://upload.lab.test:8080/blob/%C3%A4%20b")
			want(t, "httpVersion", r.HTTPVersion, "HTTP/1.0")
			want(t, "postData.text", r.PostData.Text, base64.StdEncoding.EncodeToString(binary.ReqBody.Data))
			want(t, "postData._encoding", r.PostData.Encoding, "base64")
			want(t, "postData.params", r.PostData.Params == nil, true)
			c := s.Content
			want(t, "content.encoding", c.Encoding, "base64")
			if got, err := base64.StdEncoding.DecodeString(c.Text); err != nil || string(got) != string(pngBytes) {
				t.Errorf("content.text = %q; want base64 of the PNG bytes", c.Text)
			}
			want(t, "content.size", c.Size, binary.RespBody.DecodedSize)
			want(t, "content.compression", c.Compression == nil, true)
			want(t, "content._truncated", c.Truncated, true)
			want(t, "content.mimeType", c.MimeType, "image/png")
		}},
		{"HTTP/2 gRPC call", func(t *testing.T, e *harEntry) {
			r, s := &e.Request, &e.Response
			want(t, "httpVersion", [2]string{r.HTTPVersion, s.HTTPVersion}, [2]string{"HTTP/2", "HTTP/2"})
			want(t, "statusText", s.StatusText, "OK")
			want(t, "cookies from split cookie headers", r.Cookies, []harCookie{{Name: "a", Value: "1"}, {Name: "b", Value: "2"}})
			want(t, "_trailers", s.Trailers, []harPair{{"grpc-status", "0"}})
			want(t, "postData.text", r.PostData.Text, "\x00\x00\x00\x00\x04ping")
			want(t, "serverIPAddress", e.ServerIPAddress, "2001:db8::10")
			want(t, "connection", e.Connection, "11")
		}},
		{"exchange cut short", func(t *testing.T, e *harEntry) {
			s := &e.Response
			want(t, "status", s.Status, 0)
			want(t, "statusText", s.StatusText, "")
			want(t, "_error", s.Error, "stream reset: CANCEL")
			want(t, "headers", s.Headers, []harPair{})
			want(t, "cookies", s.Cookies, []harCookie{})
			want(t, "bodySize", s.BodySize, int64(-1))
			want(t, "content.mimeType", s.Content.MimeType, "x-unknown")
			want(t, "timings", e.Timings, timingsOf(-1, 0, 1000, 0))
			want(t, "serverIPAddress (IPv4-mapped, unmapped)", e.ServerIPAddress, "203.0.113.12")
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, &f.Log.Entries[i]) })
	}
}

func timingsOf(unknown, send, wait, receive float64) struct {
	Blocked, DNS, Connect, Send, Wait, Receive, SSL float64
} {
	return struct {
		Blocked, DNS, Connect, Send, Wait, Receive, SSL float64
	}{unknown, unknown, unknown, send, wait, receive, unknown}
}

func want[T any](t *testing.T, field string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v; want %#v", field, got, want)
	}
}

func TestTimingsAddUp(t *testing.T) {
	for _, h := range samples {
		e := newEntry(h)
		sum := e.Timings.Send + e.Timings.Wait + e.Timings.Receive
		if math.Abs(e.Time-sum) > 1e-9 || e.Time != millis(h.End.Sub(h.Start)) {
			t.Errorf("%s: time %v, timings sum %v, End-Start %v; want all equal", h.URL(), e.Time, sum, h.End.Sub(h.Start))
		}
	}
	// Clocks that step back must not give negative timings.
	odd := *getJSON
	odd.RespStart, odd.End = odd.Start.Add(-time.Millisecond), odd.Start.Add(-2*time.Millisecond)
	if tm := newEntry(&odd).Timings; tm.Wait < 0 || tm.Receive < 0 {
		t.Errorf("timings with a clock stepping back = %+v; want wait, receive >= 0", tm)
	}
}

func TestCleanURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://a.test/x?q=1#f", "https://a.test/x?q=1#f"},
		{"http://a.test/a b", "http://a.test/a%20b"},
		{"http://a.test/ä", "http://a.test/%C3%A4"},
		{"http://a.test/{x}|\"", "http://a.test/%7Bx%7D%7C%22"},
		{"http://a.test/already%20escaped", "http://a.test/already%20escaped"},
	}
	for _, tt := range tests {
		if got := cleanURL(tt.in); got != tt.want {
			t.Errorf("cleanURL(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}
