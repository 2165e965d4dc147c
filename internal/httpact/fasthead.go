package httpact

import (
	"bytes"
	"net/http"
	"net/url"

	"golang.org/x/net/http/httpguts"
)

// fastHead reads a request head (b ends with its empty line) that has no
// body and asks nothing special, strictly: a request line of a token
// method, a target of visible characters and HTTP/1.0 or 1.1, then header
// fields of a token name, a colon and a value without control characters,
// each line ending in CRLF, exactly one Host (for HTTP/1.1), and none of
// the fields that give a request a body or change what follows it
// (Content-Length, Transfer-Encoding, Upgrade) nor a CONNECT. It returns
// the request to judge and true, or false for any other head, which
// net/http then reads (and answers 400 if it refuses it). Most requests
// are such heads; reading them costs a scan instead of net/http's
// parsing. What it accepts, a server can only read as a request without a
// body: the bytes after it are the next request for both.
func fastHead(b []byte) (*http.Request, bool) {
	line, rest, ok := cutLine(b)
	if !ok {
		return nil, false
	}
	method, target, proto, ok := requestLine(line)
	if !ok || method == http.MethodConnect {
		return nil, false
	}
	var host []byte
	hosts := 0
	for {
		line, rest, ok = cutLine(rest)
		if !ok {
			return nil, false
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := field(line)
		if !ok {
			return nil, false
		}
		switch {
		case bytes.EqualFold(name, []byte("host")):
			host, hosts = value, hosts+1
		case bytes.EqualFold(name, []byte("content-length")), bytes.EqualFold(name, []byte("transfer-encoding")),
			bytes.EqualFold(name, []byte("upgrade")):
			return nil, false
		}
	}
	if len(rest) != 0 || hosts > 1 || hosts == 0 && proto == "HTTP/1.1" {
		return nil, false
	}
	if target[0] != '/' {
		return nil, false // absolute-form, authority-form, asterisk: net/http's
	}
	u, err := url.ParseRequestURI(string(target))
	if err != nil {
		return nil, false
	}
	r := &http.Request{Method: method, RequestURI: string(target), Proto: proto, ProtoMajor: 1,
		Host: string(host), Header: http.Header{}, Body: http.NoBody, URL: u}
	if proto == "HTTP/1.1" {
		r.ProtoMinor = 1
	}
	return r, true
}

// cutLine cuts b after its first CRLF; a bare CR or LF fails.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 1 || b[i-1] != '\r' || bytes.IndexByte(b[:i-1], '\r') >= 0 {
		return nil, nil, false
	}
	return b[:i-1], b[i+1:], true
}

// requestLine splits "METHOD SP target SP HTTP/1.x".
func requestLine(l []byte) (method string, target []byte, proto string, ok bool) {
	i := bytes.IndexByte(l, ' ')
	if i < 1 || !isToken(l[:i]) {
		return "", nil, "", false
	}
	rest := l[i+1:]
	j := bytes.IndexByte(rest, ' ')
	if j < 1 {
		return "", nil, "", false
	}
	target, v := rest[:j], rest[j+1:]
	for _, c := range target {
		if c <= ' ' || c >= 0x7f {
			return "", nil, "", false
		}
	}
	switch string(v) {
	case "HTTP/1.1", "HTTP/1.0":
	default:
		return "", nil, "", false
	}
	return string(l[:i]), target, string(v), true
}

// field splits "name: value" with the value's surrounding blanks trimmed;
// a line starting with a blank (obsolete folding), a blank before the
// colon, or a control character fails.
func field(l []byte) (name, value []byte, ok bool) {
	i := bytes.IndexByte(l, ':')
	if i < 1 || !isToken(l[:i]) {
		return nil, nil, false
	}
	v := l[i+1:]
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return nil, nil, false
		}
	}
	return l[:i], bytes.Trim(v, " \t"), true
}

// isToken says b is a token (RFC 9110 §5.6.2).
func isToken(b []byte) bool {
	for _, c := range b {
		if !httpguts.IsTokenRune(rune(c)) {
			return false
		}
	}
	return len(b) > 0
}
