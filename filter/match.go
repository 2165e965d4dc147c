package filter

import (
	"net"
	"net/netip"
	"reflect"
	"regexp"
	"strings"

	"github.com/htapod/htapod/event"
)

// Match reports whether e is one of the events f selects. A nil Filter
// matches every event; no filter matches a nil event.
func (f *Filter) Match(e event.Event) bool {
	if isNil(e) {
		return false
	}
	if o, ok := e.(*event.FlowOpen); ok {
		// An opening flow is matched as the flow it opens.
		e = &event.Flow{ID: o.ID, Proto: o.Proto, Src: o.Src, Dst: o.Dst, Upstream: o.Upstream, Name: o.Name, Start: o.Time, Process: o.Process}
	}
	return f == nil || f.root.match(e)
}

// isNil says whether e is nil or a nil pointer, which the terms would
// dereference.
func isNil(e event.Event) bool {
	if e == nil {
		return true
	}
	v := reflect.ValueOf(e)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// matchDomain is ~d.
func matchDomain(re *regexp.Regexp, e event.Event) bool {
	switch e := e.(type) {
	case *event.HTTP:
		return matchName(re, authorityHost(e.Authority)) || matchAddr(re, e.Server.Addr())
	case *event.DNS:
		return matchName(re, e.Name)
	case *event.Flow:
		return matchName(re, e.Name) || matchAddr(re, e.Dst.Addr())
	case *event.TLS:
		return matchName(re, e.SNI) || matchAddr(re, e.Server.Addr())
	case *event.WebSocket:
		return matchName(re, e.Host) || matchAddr(re, e.Server.Addr())
	}
	return false
}

// matchName matches a host name without its final dot; an unknown
// (empty) name matches nothing.
func matchName(re *regexp.Regexp, name string) bool {
	name = strings.TrimSuffix(name, ".")
	return name != "" && re.MatchString(name)
}

func matchAddr(re *regexp.Regexp, a netip.Addr) bool {
	return a.IsValid() && re.MatchString(a.String())
}

// authorityHost is the host of an authority ("host:port", "[::1]:80",
// "host").
func authorityHost(a string) string {
	if host, _, err := net.SplitHostPort(a); err == nil {
		return host
	}
	return strings.TrimSuffix(strings.TrimPrefix(a, "["), "]")
}

// matchURL is ~u.
func matchURL(re *regexp.Regexp, e event.Event) bool {
	h, ok := e.(*event.HTTP)
	return ok && re.MatchString(h.URL())
}

// matchMethod is ~m.
func matchMethod(re *regexp.Regexp, e event.Event) bool {
	h, ok := e.(*event.HTTP)
	return ok && h.Method != "" && re.MatchString(h.Method)
}

// matchHeader returns ~h, ~hq or ~hs: the request's and/or the
// response's header and trailer fields, each as a "Name: value" line.
func matchHeader(req, resp bool) func(*regexp.Regexp, event.Event) bool {
	return func(re *regexp.Regexp, e event.Event) bool {
		h, ok := e.(*event.HTTP)
		if !ok {
			return false
		}
		return req && (matchFields(re, h.ReqHeader) || matchFields(re, h.ReqTrailer)) ||
			resp && (matchFields(re, h.RespHeader) || matchFields(re, h.RespTrailer))
	}
}

func matchFields(re *regexp.Regexp, fields []event.Header) bool {
	for _, f := range fields {
		if re.MatchString(f.Name + ": " + f.Value) {
			return true
		}
	}
	return false
}

// matchBody returns ~b, ~bq or ~bs: the request's and/or the response's
// decoded body, or the payload of a WebSocket message going up and/or
// down.
func matchBody(req, resp bool) func(*regexp.Regexp, event.Event) bool {
	return func(re *regexp.Regexp, e event.Event) bool {
		switch e := e.(type) {
		case *event.HTTP:
			return req && matchData(re, e.ReqBody.Data) || resp && matchData(re, e.RespBody.Data)
		case *event.WebSocket:
			return (e.Dir == event.Up && req || e.Dir == event.Down && resp) && matchData(re, e.Data)
		}
		return false
	}
}

// matchData matches held bytes; an empty body matches nothing.
func matchData(re *regexp.Regexp, b []byte) bool {
	return len(b) > 0 && re.Match(b)
}

// matchType returns ~t, ~tq or ~ts: the media type of the request's
// and/or the response's body, and their Content-Type fields.
func matchType(req, resp bool) func(*regexp.Regexp, event.Event) bool {
	return func(re *regexp.Regexp, e event.Event) bool {
		h, ok := e.(*event.HTTP)
		if !ok {
			return false
		}
		return req && contentType(re, &h.ReqBody, h.ReqHeader) ||
			resp && contentType(re, &h.RespBody, h.RespHeader)
	}
}

func contentType(re *regexp.Regexp, b *event.Body, fields []event.Header) bool {
	if b.ContentType != "" && re.MatchString(b.ContentType) {
		return true
	}
	for _, f := range fields {
		if strings.EqualFold(f.Name, "Content-Type") && re.MatchString(f.Value) {
			return true
		}
	}
	return false
}

// matchGrep is ~g: see Grep for the fields it reads.
func matchGrep(re *regexp.Regexp, e event.Event) bool {
	switch e := e.(type) {
	case *event.HTTP:
		return re.MatchString(e.URL()) ||
			matchFields(re, e.ReqHeader) || matchFields(re, e.ReqTrailer) ||
			matchFields(re, e.RespHeader) || matchFields(re, e.RespTrailer) ||
			matchData(re, e.ReqBody.Data) || matchData(re, e.RespBody.Data)
	case *event.DNS:
		if matchName(re, e.Name) {
			return true
		}
		for _, a := range e.Answers {
			if re.MatchString(a) {
				return true
			}
		}
	case *event.WebSocket:
		return matchData(re, e.Data) || e.CloseReason != "" && re.MatchString(e.CloseReason)
	case *event.TLS:
		return matchName(re, e.SNI)
	case *event.Flow:
		return matchName(re, e.Name) || e.Dst.IsValid() && re.MatchString(e.Dst.String())
	}
	return false
}
