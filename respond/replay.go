package respond

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/htapod/htapod/sink/redact"
)

// ReplayOptions say how requests are matched to recorded exchanges.
type ReplayOptions struct {
	// MatchBody adds the request body to the match (method and URL
	// always count).
	MatchBody bool
	// MatchHeaders adds these request header fields to the match.
	MatchHeaders []string
	// IgnoreParams are query parameters left out of the match ("*": the
	// whole query).
	IgnoreParams []string
	// KeepLast answers repeated identical requests with the last
	// recorded response; by default they get the recorded responses in
	// order (and the last one once those are used up).
	KeepLast bool
	// Forward sends requests with no recorded response to the network;
	// by default they get a miss response (MissStatus, header
	// X-Htapod-Replay: miss, a body that names the request).
	Forward bool
}

// MissStatus is the status of the response to a request that the
// recording does not hold.
const MissStatus = http.StatusBadGateway

// StandIn is the address names in a recording resolve to when the
// recording does not say which address they had (RFC 2544's benchmarking
// range, which no real server uses).
var StandIn = netip.MustParseAddr("198.18.0.1")

// Replay answers requests from a HAR recording. It is safe for concurrent
// use.
type Replay struct {
	opts ReplayOptions

	mu      sync.Mutex
	answers map[string][]*Response // by match key, in recorded order
	used    map[string]int

	// Hosts maps each host name in the recording (lower case) to the
	// server addresses it was reached at, StandIn when unknown.
	Hosts map[string][]netip.Addr
	// h2 holds the hosts (authority, lower case) that spoke HTTP/2.
	h2 map[string]bool
	// redacted are the query parameters whose values the recording
	// redacted: a request's values of them are redacted before matching.
	redacted map[string]bool
	// Truncated counts recorded responses whose body was cut short by
	// the recording's body limit (they replay cut short).
	Truncated int
}

// harFile is the part of a HAR file that replay reads.
type harFile struct {
	Log struct {
		Entries []harEntry `json:"entries"`
	} `json:"log"`
}

type harEntry struct {
	Request struct {
		Method   string    `json:"method"`
		URL      string    `json:"url"`
		Headers  []harPair `json:"headers"`
		PostData *struct {
			Text     string `json:"text"`
			Encoding string `json:"_encoding"`
		} `json:"postData"`
	} `json:"request"`
	Response struct {
		Status      int       `json:"status"`
		HTTPVersion string    `json:"httpVersion"`
		Headers     []harPair `json:"headers"`
		Content     struct {
			Text      string `json:"text"`
			Encoding  string `json:"encoding"`
			Truncated bool   `json:"_truncated"`
		} `json:"content"`
	} `json:"response"`
	ServerIPAddress string `json:"serverIPAddress"`
}

type harPair struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// LoadReplay reads a HAR file (htapod's, a browser's) for replay.
func LoadReplay(path string, opts ReplayOptions) (*Replay, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open recording: %w", err)
	}
	defer f.Close()
	return ReadReplay(f, opts)
}

// ReadReplay reads a HAR recording from r.
func ReadReplay(r io.Reader, opts ReplayOptions) (*Replay, error) {
	var h harFile
	if err := json.NewDecoder(r).Decode(&h); err != nil {
		return nil, fmt.Errorf("read recording: %w", err)
	}
	rp := &Replay{opts: opts, answers: map[string][]*Response{}, used: map[string]int{},
		Hosts: map[string][]netip.Addr{}, h2: map[string]bool{}, redacted: redactedParams(h.Log.Entries)}
	for i, e := range h.Log.Entries {
		if e.Response.Status == 0 {
			continue // no response was recorded
		}
		u, err := url.Parse(e.Request.URL)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("read recording: entry %d: bad URL %q", i, e.Request.URL)
		}
		resp, err := recorded(&e)
		if err != nil {
			return nil, fmt.Errorf("read recording: entry %d (%s): %w", i, e.Request.URL, err)
		}
		if e.Response.Content.Truncated {
			rp.Truncated++
		}
		body, _ := postBody(&e)
		k := rp.key(e.Request.Method, u, body, harHeader(e.Request.Headers))
		rp.answers[k] = append(rp.answers[k], resp)
		rp.addHost(u, e.ServerIPAddress, e.Response.HTTPVersion == "HTTP/2")
	}
	return rp, nil
}

func (rp *Replay) addHost(u *url.URL, ip string, h2 bool) {
	host := strings.ToLower(u.Hostname())
	if h2 {
		rp.h2[host] = true
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return // an address needs no name
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		a = StandIn
	}
	if !slices.Contains(rp.Hosts[host], a) {
		rp.Hosts[host] = append(rp.Hosts[host], a)
	}
}

// HTTP2 says whether the recording reached host (an SNI or a name) over
// HTTP/2; replay then offers h2 to clients of that host.
func (rp *Replay) HTTP2(host string) bool { return rp.h2[strings.ToLower(host)] }

// Offline says whether a replay needs no network at all (requests with no
// recorded answer are not forwarded).
func (rp *Replay) Offline() bool { return !rp.opts.Forward }

func recorded(e *harEntry) (*Response, error) {
	c := &e.Response.Content
	body := []byte(c.Text)
	if c.Encoding == "base64" {
		b, err := base64.StdEncoding.DecodeString(c.Text)
		if err != nil {
			return nil, fmt.Errorf("response body: %w", err)
		}
		body = b
	}
	r := &Response{Status: e.Response.Status, Header: http.Header{}, Body: body}
	for _, p := range e.Response.Headers {
		switch strings.ToLower(p.Name) {
		case "content-length", "connection", "keep-alive":
			continue
		case "transfer-encoding":
			r.Chunked = strings.Contains(strings.ToLower(p.Value), "chunked")
			continue
		}
		if strings.HasPrefix(p.Name, ":") {
			continue
		}
		r.Header.Add(p.Name, p.Value)
	}
	return r, nil
}

func postBody(e *harEntry) ([]byte, error) {
	p := e.Request.PostData
	if p == nil {
		return nil, nil
	}
	if p.Encoding == "base64" {
		return base64.StdEncoding.DecodeString(p.Text)
	}
	return []byte(p.Text), nil
}

func harHeader(ps []harPair) http.Header {
	h := http.Header{}
	for _, p := range ps {
		if !strings.HasPrefix(p.Name, ":") {
			h.Add(p.Name, p.Value)
		}
	}
	return h
}

// key is what a request is matched by.
func (rp *Replay) key(method string, u *url.URL, body []byte, h http.Header) string {
	var b strings.Builder
	b.WriteString(method + " " + canonicalURL(u, rp.opts.IgnoreParams, rp.redacted))
	for _, name := range rp.opts.MatchHeaders {
		b.WriteString("\n" + strings.ToLower(name) + ": " + strings.Join(h.Values(name), ", "))
	}
	if rp.opts.MatchBody {
		b.WriteString("\n\n")
		b.Write(body)
	}
	return b.String()
}

// redactedParams lists the query parameters that a redacted recording
// holds redact.Placeholder for.
func redactedParams(entries []harEntry) map[string]bool {
	out := map[string]bool{}
	for _, e := range entries {
		_, q, _ := strings.Cut(e.Request.URL, "?")
		for part := range strings.SplitSeq(q, "&") {
			if n, v, _ := strings.Cut(part, "="); v == redact.Placeholder {
				out[n] = true
			}
		}
	}
	return out
}

// canonicalURL spells u so that equal requests compare equal: lower-case
// scheme and host, no default port, the ignored query parameters left
// out, the values of redacted ones replaced.
func canonicalURL(u *url.URL, ignore []string, redacted map[string]bool) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if p := u.Port(); p != "" && !(scheme == "http" && p == "80") && !(scheme == "https" && p == "443") {
		host = net.JoinHostPort(host, p)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	s := scheme + "://" + host + u.EscapedPath()
	q := u.RawQuery
	if slices.Contains(ignore, "*") {
		q = ""
	} else if (len(ignore) > 0 || len(redacted) > 0) && q != "" {
		var kept []string
		for part := range strings.SplitSeq(q, "&") {
			raw, _, _ := strings.Cut(part, "=")
			name := raw
			if n, err := url.QueryUnescape(raw); err == nil {
				name = n
			}
			if redacted[raw] {
				part = raw + "=" + redact.Placeholder
			}
			if !slices.Contains(ignore, name) {
				kept = append(kept, part)
			}
		}
		q = strings.Join(kept, "&")
	}
	if q != "" {
		s += "?" + q
	}
	return s
}

// Decide answers r from the recording (Action "replay"), or with the miss
// response (Action "replay miss"), or forwards it (with Forward).
func (rp *Replay) Decide(r *http.Request) Decision {
	var body []byte
	if rp.opts.MatchBody && r.Body != nil {
		body, _ = io.ReadAll(r.Body)
	}
	k := rp.key(r.Method, r.URL, body, r.Header)
	rp.mu.Lock()
	answers := rp.answers[k]
	var resp *Response
	if len(answers) > 0 {
		i := rp.used[k]
		if rp.opts.KeepLast || i >= len(answers) {
			i = len(answers) - 1
		}
		resp = answers[i]
		rp.used[k]++
	}
	rp.mu.Unlock()
	if resp != nil {
		return Decision{Response: resp, Action: "replay"}
	}
	if rp.opts.Forward {
		return Decision{Action: "replay miss, forwarded"}
	}
	return Decision{Response: missResponse(r), Action: "replay miss"}
}

func missResponse(r *http.Request) *Response {
	h := http.Header{}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Htapod-Replay", "miss")
	return &Response{Status: MissStatus, Header: h,
		Body: fmt.Appendf(nil, "htapod replay: no recorded response for %s %s\n", r.Method, r.URL)}
}
