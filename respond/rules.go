package respond

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/filter"
)

// Rule answers or disturbs the requests its filter matches: a --mock
// rule (Response set) or a --fault rule (Fault set).
type Rule struct {
	// Text is the rule as written, for messages.
	Text   string
	Filter *filter.Filter
	// Response answers a matching request (a mock); nil for a fault rule.
	Response *Response
	// Fault disturbs a matching exchange; nil for a mock.
	Fault *Fault
	// Probability is the chance, 0 < p ≤ 1, that the rule applies to a
	// matching request; 0 means always.
	Probability float64
	// Action is the label of the exchanges the rule acts on.
	Action string
}

// ParseMock parses FILTER=RESPONSE, where RESPONSE is a status, optionally
// with a body after a colon: inline text, or @FILE (relative to dir). The
// split is at the last "=" followed by a status.
func ParseMock(s, dir string) (Rule, error) {
	expr, resp, ok := splitRule(s, func(r string) bool {
		st, _, _ := strings.Cut(r, ":")
		n, err := strconv.Atoi(st)
		return err == nil && len(st) == 3 && n >= 100
	})
	if !ok {
		return Rule{}, fmt.Errorf("mock %q: want FILTER=STATUS[:BODY|:@FILE], e.g. '~u /api/users=200:@users.json'", s)
	}
	f, err := parseFilter(expr)
	if err != nil {
		return Rule{}, fmt.Errorf("mock %q: %w", s, err)
	}
	st, body, hasBody := strings.Cut(resp, ":")
	status, _ := strconv.Atoi(st)
	r := &Response{Status: status, Header: http.Header{}}
	if hasBody {
		if name, ok := strings.CutPrefix(body, "@"); ok {
			if !filepath.IsAbs(name) && dir != "" {
				name = filepath.Join(dir, name)
			}
			b, err := os.ReadFile(name)
			if err != nil {
				return Rule{}, fmt.Errorf("mock %q: read body: %w", s, err)
			}
			r.Body = b
			if ct := mime.TypeByExtension(filepath.Ext(name)); ct != "" {
				r.Header.Set("Content-Type", ct)
			}
		} else {
			r.Body = []byte(body)
		}
		if r.Header.Get("Content-Type") == "" {
			r.Header.Set("Content-Type", http.DetectContentType(r.Body))
		}
	}
	return Rule{Text: s, Filter: f, Response: r, Action: "mock"}, nil
}

// ParseFault parses FILTER=ACTION[,ACTION…][@P%], ACTION one of
// delay:DURATION, reset, status:N, timeout, throttle:RATE (bytes a
// second, with k or m: "64k").
func ParseFault(s string) (Rule, error) {
	expr, act, ok := splitRule(s, func(r string) bool {
		w, _, _ := strings.Cut(r, ":")
		w, _, _ = strings.Cut(w, ",")
		w, _, _ = strings.Cut(w, "@")
		switch w {
		case "delay", "reset", "status", "timeout", "throttle", "refuse", "blackhole":
			return true
		}
		return false
	})
	if !ok {
		return Rule{}, fmt.Errorf("fault %q: want FILTER=ACTION, ACTION one of delay:200ms, reset, status:503, timeout, throttle:64k, optionally @30%%", s)
	}
	f, err := parseFilter(expr)
	if err != nil {
		return Rule{}, fmt.Errorf("fault %q: %w", s, err)
	}
	rule := Rule{Text: s, Filter: f, Fault: &Fault{}, Action: "fault " + act}
	if a, p, ok := strings.Cut(act, "@"); ok {
		v, err := strconv.ParseFloat(strings.TrimSuffix(p, "%"), 64)
		if err != nil || v <= 0 || v > 100 {
			return Rule{}, fmt.Errorf("fault %q: probability %q: want a percentage in (0, 100]", s, p)
		}
		rule.Probability, act = v/100, a
	}
	for part := range strings.SplitSeq(act, ",") {
		if err := parseAction(rule.Fault, part); err != nil {
			return Rule{}, fmt.Errorf("fault %q: %w", s, err)
		}
	}
	if f := rule.Fault; f.Connect() && (f.Delay != 0 || f.Status != 0 || f.Reset || f.Timeout || f.Throttle != 0 || (f.Refuse && f.Blackhole)) {
		return Rule{}, fmt.Errorf("fault %q: refuse and blackhole act on the connection and go alone", s)
	}
	return rule, nil
}

func parseAction(f *Fault, a string) error {
	name, arg, _ := strings.Cut(strings.TrimSpace(a), ":")
	var err error
	switch name {
	case "reset":
		f.Reset = true
	case "timeout":
		f.Timeout = true
	case "refuse":
		f.Refuse = true
	case "blackhole":
		f.Blackhole = true
	case "delay":
		f.Delay, err = time.ParseDuration(arg)
	case "status":
		f.Status, err = strconv.Atoi(arg)
		if err == nil && (f.Status < 100 || f.Status > 999) {
			err = fmt.Errorf("status %d out of range", f.Status)
		}
	case "throttle":
		f.Throttle, err = parseRate(arg)
	default:
		return fmt.Errorf("unknown action %q", name)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// parseRate reads a byte rate: "1000", "64k", "2m" (k = 1024).
func parseRate(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(strings.ToLower(s), "k"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(strings.ToLower(s), "m"):
		mult, s = 1<<20, s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("rate %q: want bytes a second, e.g. 64k", s)
	}
	return n * mult, nil
}

// parseFilter parses a rule's filter; a syntax error points into it
// without naming --filter (the caller names the rule).
func parseFilter(expr string) (*filter.Filter, error) {
	f, err := filter.Parse(expr)
	var se *filter.SyntaxError
	if errors.As(err, &se) {
		se.Flag = "filter"
	}
	return f, err
}

// splitRule splits s at the last "=" whose remainder is accepted.
func splitRule(s string, accept func(string) bool) (expr, rest string, ok bool) {
	for i := strings.LastIndex(s, "="); i > 0; i = strings.LastIndex(s[:i], "=") {
		if accept(s[i+1:]) {
			return strings.TrimSpace(s[:i]), s[i+1:], true
		}
	}
	return "", "", false
}

// ParseMockFile reads mock rules, one a line ('#' starts a comment line).
// Lines indented under a rule add response headers ("Name: value"). Body
// files are relative to the file's directory.
func ParseMockFile(path string) ([]Rule, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open mock file: %w", err)
	}
	defer f.Close()
	var rules []Rule
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			name, value, ok := strings.Cut(t, ":")
			if !ok || len(rules) == 0 {
				return nil, fmt.Errorf("%s:%d: want a header line 'Name: value' under a rule", path, n)
			}
			rules[len(rules)-1].Response.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
			continue
		}
		r, err := ParseMock(t, filepath.Dir(path))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		rules = append(rules, r)
	}
	return rules, sc.Err()
}

// Rules returns a Decider that applies the first matching mock rule and
// the first matching fault rule (each after its probability), and asks
// next (nil: forward) for the response when no mock rule matched.
func Rules(rules []Rule, next Decider) Decider {
	return func(r *http.Request) Decision {
		head := Head(r)
		var d Decision
		var labels []string
		mocked, faulted := false, false
		for i := range rules {
			rule := &rules[i]
			if (rule.Response != nil && mocked) || (rule.Fault != nil && faulted) {
				continue
			}
			if !rule.Filter.Match(head) || (rule.Probability > 0 && rand.Float64() >= rule.Probability) {
				continue
			}
			if rule.Fault.Connect() {
				continue // decided at the connection (ConnectFault)
			}
			if rule.Response != nil {
				d.Response, mocked = rule.Response, true
			} else {
				d.Fault, faulted = rule.Fault, true
			}
			labels = append(labels, rule.Action)
		}
		if !mocked && next != nil {
			n := next(r)
			d.Response = n.Response
			if n.Action != "" {
				labels = append([]string{n.Action}, labels...)
			}
			if d.Fault == nil {
				d.Fault = n.Fault
			}
		}
		d.Action = strings.Join(labels, ", ")
		return d
	}
}

// ConnectFault returns the first connect-time fault rule (refuse,
// blackhole) whose filter matches a TCP connection to dst, which the
// command knew as name (or ""), after its probability; nil for none.
func ConnectFault(rules []Rule, dst netip.AddrPort, name string) *Rule {
	fl := &event.Flow{Proto: event.TCP, Dst: dst, Name: name}
	for i := range rules {
		r := &rules[i]
		if !r.Fault.Connect() || !r.Filter.Match(fl) {
			continue
		}
		if r.Probability > 0 && rand.Float64() >= r.Probability {
			continue
		}
		return r
	}
	return nil
}

// Head is the request-head event of r, for filters: method, URL, header
// fields and the start of the body.
func Head(r *http.Request) *event.HTTP {
	h := &event.HTTP{Phase: event.PhaseRequest, Proto: r.Proto, Scheme: r.URL.Scheme, TLS: r.URL.Scheme == "https",
		Method: r.Method, Authority: r.Host, Path: r.URL.RequestURI(), Start: time.Now()}
	if r.ProtoMajor == 2 {
		h.Proto = "h2"
	}
	for name, vs := range r.Header {
		for _, v := range vs {
			h.ReqHeader = append(h.ReqHeader, event.Header{Name: name, Value: v})
		}
	}
	if r.GetBody != nil {
		if b, err := r.GetBody(); err == nil {
			buf := new(strings.Builder)
			_, _ = bufio.NewReader(b).WriteTo(buf)
			h.ReqBody.Data = []byte(buf.String())
			h.ReqBody.Size = int64(buf.Len())
		}
	}
	return h
}
