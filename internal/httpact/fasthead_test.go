package httpact

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
)

// TestFastHead: the heads fastHead reads are read by net/http the same
// way (method, Host, no body, nothing after the head); the others are
// left to net/http.
func TestFastHead(t *testing.T) {
	for _, tt := range []struct {
		head string
		ok   bool
		host string
	}{
		{"GET / HTTP/1.1\r\nHost: www.lab.test\r\n\r\n", true, "www.lab.test"},
		{"GET /a?b=c HTTP/1.1\r\nhost:  www.lab.test:8080 \r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n", true, "www.lab.test:8080"},
		{"HEAD /x HTTP/1.0\r\n\r\n", true, ""},
		{"DELETE /x HTTP/1.1\r\nHost: a.test\r\nX-Empty:\r\n\r\n", true, "a.test"},
		{"GET / HTTP/1.1\r\n\r\n", false, ""},                                      // no Host
		{"GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n", false, ""},      // two
		{"GET / HTTP/1.1\r\nHost : a.test\r\n\r\n", false, ""},                     // blank before the colon
		{"GET / HTTP/1.1\r\nHost: a.test\r\n folded\r\n\r\n", false, ""},           // obsolete folding
		{"GET / HTTP/1.1\nHost: a.test\r\n\r\n", false, ""},                        // bare LF
		{"GET / HTTP/1.1\r\nHost: a\rb.test\r\n\r\n", false, ""},                   // bare CR
		{"GET / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0\r\n\r\n", false, ""}, // a body's field
		{"POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n", false, ""},
		{"GET / HTTP/1.1\r\nHost: a.test\r\nUpgrade: websocket\r\n\r\n", false, ""},
		{"CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n", false, ""},
		{"GET / HTTP/2.0\r\nHost: a.test\r\n\r\n", false, ""},
		{"GET  / HTTP/1.1\r\nHost: a.test\r\n\r\n", false, ""},
		{"GET / HTTP/1.1\r\nHo\x00st: a.test\r\n\r\n", false, ""},
		{"GET / HTTP/1.1\r\nHost: a.test\x01\r\n\r\n", false, ""},
		{"GET /\x7f HTTP/1.1\r\nHost: a.test\r\n\r\n", false, ""},
	} {
		req, ok := fastHead([]byte(tt.head))
		if ok != tt.ok {
			t.Errorf("fastHead(%q) ok = %v; want %v", tt.head, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		br := bufio.NewReader(strings.NewReader(tt.head))
		std, err := http.ReadRequest(br)
		if err != nil {
			t.Errorf("fastHead took %q, which net/http refuses: %v", tt.head, err)
			continue
		}
		if req.Host != tt.host || std.Host != req.Host || std.Method != req.Method || std.Body != http.NoBody || br.Buffered() != 0 {
			t.Errorf("%q: fastHead Host %q %s, net/http Host %q %s body %v; want both %q", tt.head, req.Host, req.Method, std.Host, std.Method, std.Body, tt.host)
		}
	}
}

// FuzzFastHead: whatever head fastHead takes, net/http takes too, with the
// same method and Host, no body and nothing left: the gate and a server
// that parses as net/http does cannot disagree on where the next request
// starts, nor on the Host that was judged.
func FuzzFastHead(f *testing.F) {
	f.Add("GET / HTTP/1.1\r\nHost: www.lab.test\r\n\r\n")
	f.Add("HEAD /x HTTP/1.0\r\nAccept: */*\r\n\r\n")
	f.Add("GET / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0\r\n\r\n")
	f.Add("GET / HTTP/1.1\r\nHost : a.test\r\n\r\n")
	f.Fuzz(func(t *testing.T, head string) {
		end := strings.Index(head, "\r\n\r\n")
		if end < 0 {
			return
		}
		head = head[:end+4]
		req, ok := fastHead([]byte(head))
		if !ok {
			return
		}
		br := bufio.NewReader(strings.NewReader(head))
		std, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("fastHead took %q, which net/http refuses: %v", head, err)
		}
		if std.Host != req.Host || std.Method != req.Method || std.Body != http.NoBody || br.Buffered() != 0 {
			t.Fatalf("%q: fastHead Host %q %s; net/http Host %q %s body %v", head, req.Host, req.Method, std.Host, std.Method, std.Body)
		}
	})
}
