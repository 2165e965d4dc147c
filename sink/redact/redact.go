// Package redact takes secrets out of HTTP events before they are written
// to files that get shared (HAR, JSON): by default the values of Cookie,
// Set-Cookie, Authorization and Proxy-Authorization, more on request
// (header fields, query parameters, body regexes). A value becomes
// Placeholder; names stay, so a reader still sees which cookie was sent,
// and a replay of the file still matches its requests.
package redact

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/sink"
)

// Placeholder replaces every redacted value.
const Placeholder = "REDACTED"

// defaultHeaders are redacted unless the user keeps secrets, as browsers
// leave them out of the HAR files they export.
var defaultHeaders = []string{"cookie", "set-cookie", "authorization", "proxy-authorization"}

// Redactor rewrites events. It is immutable and safe for concurrent use.
type Redactor struct {
	headers map[string]bool // lower case
	params  map[string]bool
	bodies  []*regexp.Regexp
}

// New returns a Redactor of the default headers and patterns, each one of
// "header:NAME", "param:NAME" (a query parameter), "body:REGEX" (Go
// syntax; each match in a body becomes Placeholder), or a bare NAME
// meaning both a header and a query parameter.
func New(patterns ...string) (*Redactor, error) {
	r := &Redactor{headers: map[string]bool{}, params: map[string]bool{}}
	for _, h := range defaultHeaders {
		r.headers[h] = true
	}
	for _, p := range patterns {
		kind, arg, ok := strings.Cut(p, ":")
		if !ok {
			kind, arg = "", p
		}
		if arg == "" {
			return nil, fmt.Errorf("redact %q: empty name", p)
		}
		switch kind {
		case "header":
			r.headers[strings.ToLower(arg)] = true
		case "param":
			r.params[arg] = true
		case "body":
			re, err := regexp.Compile(arg)
			if err != nil {
				return nil, fmt.Errorf("redact %q: %w", p, err)
			}
			r.bodies = append(r.bodies, re)
		case "":
			r.headers[strings.ToLower(arg)] = true
			r.params[arg] = true
		default:
			return nil, fmt.Errorf("redact %q: want header:NAME, param:NAME, body:REGEX or NAME", p)
		}
	}
	return r, nil
}

// Wrap returns a handler that passes redacted events to next. Events are
// copied, never changed in place: other handlers see the originals.
func (r *Redactor) Wrap(next event.Handler) event.Handler {
	return func(e event.Event) { next(r.Event(e)) }
}

// Event returns e with its secrets replaced (a copy when anything
// changed): HTTP events' headers, query and bodies, and the command line
// of the process behind any event that names one.
func (r *Redactor) Event(e event.Event) event.Event {
	h, ok := e.(*event.HTTP)
	if !ok {
		return processEvent(e)
	}
	c := *h
	c.Process = process(h.Process)
	c.ReqHeader = r.fields(h.ReqHeader)
	c.ReqTrailer = r.fields(h.ReqTrailer)
	c.RespHeader = r.fields(h.RespHeader)
	c.RespTrailer = r.fields(h.RespTrailer)
	c.Path = r.query(h.Path)
	c.ReqBody.Data = r.body(h.ReqBody.Data)
	c.RespBody.Data = r.body(h.RespBody.Data)
	return &c
}

func (r *Redactor) fields(hs []event.Header) []event.Header {
	var out []event.Header
	for i, h := range hs {
		name := strings.ToLower(h.Name)
		if !r.headers[name] {
			continue
		}
		if out == nil {
			out = append([]event.Header(nil), hs...)
		}
		out[i].Value = value(name, h.Value)
	}
	if out == nil {
		return hs
	}
	return out
}

// value redacts one field's value, keeping its structure: cookie names,
// the attributes of Set-Cookie, the scheme of Authorization.
func value(name, v string) string {
	switch name {
	case "cookie":
		parts := strings.Split(v, ";")
		for i, p := range parts {
			if n, _, ok := strings.Cut(p, "="); ok {
				parts[i] = n + "=" + Placeholder
			}
		}
		return strings.Join(parts, ";")
	case "set-cookie":
		first, attrs, _ := strings.Cut(v, ";")
		if n, _, ok := strings.Cut(first, "="); ok {
			first = n + "=" + Placeholder
		} else {
			first = Placeholder
		}
		if attrs != "" {
			return first + ";" + attrs
		}
		return first
	case "authorization", "proxy-authorization":
		if scheme, _, ok := strings.Cut(v, " "); ok {
			return scheme + " " + Placeholder
		}
	}
	return Placeholder
}

// query redacts the values of the parameters named in the request
// target's query.
func (r *Redactor) query(target string) string {
	path, q, ok := strings.Cut(target, "?")
	if !ok || len(r.params) == 0 {
		return target
	}
	parts := strings.Split(q, "&")
	changed := false
	for i, p := range parts {
		n, _, _ := strings.Cut(p, "=")
		if r.params[n] {
			parts[i], changed = n+"="+Placeholder, true
		}
	}
	if !changed {
		return target
	}
	return path + "?" + strings.Join(parts, "&")
}

func (r *Redactor) body(b []byte) []byte {
	for _, re := range r.bodies {
		b = re.ReplaceAll(b, []byte(Placeholder))
	}
	return b
}

// Sink returns s with r's redaction applied to the events it handles. It
// keeps s's flush pace (sink.Paced).
func (r *Redactor) Sink(s sink.Sink) sink.Sink {
	w := &redacted{s: s, r: r}
	if p, ok := s.(sink.Paced); ok {
		return &pacedRedacted{redacted: w, every: p.FlushInterval()}
	}
	return w
}

type redacted struct {
	s sink.Sink
	r *Redactor
}

func (w *redacted) Handle(e event.Event) { w.s.Handle(w.r.Event(e)) }
func (w *redacted) Flush() error         { return w.s.Flush() }
func (w *redacted) Close() error         { return w.s.Close() }

type pacedRedacted struct {
	*redacted
	every time.Duration
}

func (p *pacedRedacted) FlushInterval() time.Duration { return p.every }
