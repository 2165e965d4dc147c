package http1

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/htapod/htapod/dissect/internal/body"
	"github.com/htapod/htapod/event"
)

// exchange is one request and its response, from the request head on.
type exchange struct {
	ev       event.HTTP
	req      *body.Sink
	resp     *body.Sink // nil until the final response head
	reqDone  bool       // the request body ended
	respHead bool       // the final response head arrived
	respDone bool       // the response body ended
	// tunnel says the request asked to leave HTTP/1 (CONNECT, Upgrade):
	// bytes after it wait for the response to say whether it did.
	tunnel   bool
	resolved bool // the response said whether the connection left HTTP/1
	emitted  bool // PhaseDone was emitted
}

// newExchange makes the exchange of a parsed request head.
func (s *stream) newExchange(rl requestLine, h []event.Header, t time.Time) *exchange {
	s.seq++
	x := &exchange{ev: event.HTTP{
		FlowID:    s.meta.FlowID,
		Seq:       s.seq,
		Proto:     rl.proto,
		Scheme:    "http",
		Method:    rl.method,
		Path:      rl.target,
		ReqHeader: h,
		Start:     t,
		Server:    s.meta.Dst,
	}}
	if s.meta.TLS {
		x.ev.Scheme, x.ev.TLS = "https", true
	}
	x.ev.Authority, _ = get(h, "Host")
	switch {
	case rl.method == "CONNECT":
		// RFC 9110 §9.3.6: the request-target is the authority-form.
		x.ev.Authority, x.ev.Path = rl.target, ""
	case !strings.HasPrefix(rl.target, "/") && strings.Contains(rl.target, "://"):
		// RFC 9112 §3.2.2: with the absolute-form, the target's authority
		// replaces Host.
		if u, err := url.Parse(rl.target); err == nil && u.Host != "" {
			x.ev.Scheme, x.ev.Authority, x.ev.Path = u.Scheme, u.Host, u.RequestURI()
		}
	}
	if x.ev.Authority == "" {
		x.ev.Authority = s.fallbackAuthority(x.ev.Scheme)
	}
	x.tunnel = rl.method == "CONNECT" || len(body.FieldList(h, "Upgrade")) > 0
	x.req = body.New(s.opts.BodyLimit)
	x.req.Head(h)
	return x
}

// fallbackAuthority names the server when a request has no Host: the DNS
// name or SNI, else the destination address, without a default port.
func (s *stream) fallbackAuthority(scheme string) string {
	port := s.meta.Dst.Port()
	host := s.meta.Name
	if host == "" {
		if !s.meta.Dst.Addr().IsValid() {
			return ""
		}
		host = s.meta.Dst.Addr().String()
		if s.meta.Dst.Addr().Is6() {
			host = "[" + host + "]"
		}
	}
	if (scheme == "http" && port == 80) || (scheme == "https" && port == 443) || port == 0 {
		return host
	}
	return host + ":" + strconv.Itoa(int(port))
}

// requestFraming decides how a request body is delimited (RFC 9112 §6.3).
func requestFraming(h []event.Header) (framing, int64, error) {
	if te := body.FieldList(h, "Transfer-Encoding"); len(te) > 0 {
		// "If a Transfer-Encoding header field is present in a request and
		// the chunked transfer coding is not the final encoding, the
		// message body length cannot be determined reliably; the server
		// MUST respond with the 400 (Bad Request) status code".
		if !strings.EqualFold(te[len(te)-1], "chunked") {
			return 0, 0, malformed("request transfer coding %q is not chunked", te[len(te)-1])
		}
		return chunked, 0, nil
	}
	return lengthFraming(h, noBody)
}

// responseFraming decides how the body of a response to x is delimited.
func responseFraming(x *exchange, status int, h []event.Header) (framing, int64, error) {
	switch {
	case x.ev.Method == "HEAD", status < 200, status == 204, status == 304:
		return noBody, 0, nil
	}
	if te := body.FieldList(h, "Transfer-Encoding"); len(te) > 0 {
		if strings.EqualFold(te[len(te)-1], "chunked") {
			return chunked, 0, nil
		}
		return byClose, 0, nil
	}
	return lengthFraming(h, byClose)
}

// lengthFraming reads Content-Length; without one the body is dflt.
func lengthFraming(h []event.Header, dflt framing) (framing, int64, error) {
	cl := body.FieldList(h, "Content-Length")
	if len(cl) == 0 {
		return dflt, 0, nil
	}
	// RFC 9110 §8.6: a list of identical values may be taken as one.
	for _, v := range cl[1:] {
		if v != cl[0] {
			return 0, 0, malformed("conflicting Content-Length %q and %q", cl[0], v)
		}
	}
	n, err := strconv.ParseInt(cl[0], 10, 64)
	if err != nil || n < 0 || strings.Trim(cl[0], "0123456789") != "" {
		return 0, 0, malformed("bad Content-Length %.20q", cl[0])
	}
	if n == 0 {
		return noBody, 0, nil
	}
	return byLength, n, nil
}

// snapshot returns a fresh event of x at phase p.
func (x *exchange) snapshot(p event.HTTPPhase) *event.HTTP {
	ev := x.ev
	ev.Phase = p
	ev.ReqBody = x.req.Event()
	ev.RespBody = x.resp.Event()
	ev.Interim = slices.Clip(ev.Interim)
	return &ev
}

// emitPhase emits x at phase p.
func (s *stream) emitPhase(x *exchange, p event.HTTPPhase) {
	s.emit(x.snapshot(p))
}

// done emits x's PhaseDone (once), ended at t with reason why ("" when
// complete), and drops it from the queue.
func (s *stream) done(x *exchange, t time.Time, why string) {
	if x.emitted {
		return
	}
	x.emitted = true
	// endRequest and endResponse ended the bodies that were complete; one
	// still open was cut short (a coded one keeps what was decoded).
	x.req.End(x.reqDone)
	if x.resp != nil {
		x.resp.End(x.respDone)
	}
	x.ev.End, x.ev.Err = t, why
	s.emitPhase(x, event.PhaseDone)
	if i := slices.Index(s.queue, x); i >= 0 {
		s.queue = slices.Delete(s.queue, i, i+1)
	}
}

// maybeDone emits x's PhaseDone at t once both bodies ended.
func (s *stream) maybeDone(x *exchange, t time.Time) {
	if x.reqDone && x.respDone {
		s.done(x, t, "")
	}
}
