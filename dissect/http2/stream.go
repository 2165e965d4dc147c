package http2

import (
	"strconv"
	"strings"
	"time"

	"github.com/htapod/htapod/dissect/internal/body"
	"github.com/htapod/htapod/event"
)

// stream is one exchange: the event being built and the state of both
// halves.
type stream struct {
	ev event.HTTP
	// reqHead and respHead say PhaseRequest and PhaseResponse were
	// emitted; reqEnded and respEnded that each side sent END_STREAM.
	reqHead, respHead   bool
	reqEnded, respEnded bool
	req, resp           *body.Sink
	// grpc is set once a head says the exchange is a gRPC call.
	grpc *grpcCall
	// upgraded marks stream 1 of NewUpgraded, whose request HTTP/1
	// carried.
	upgraded bool
	// drainFrom is when the server reset the stream with NO_ERROR after
	// its whole response, the request not ended: the exchange is
	// complete, but the client's DATA sent before it saw the reset still
	// belongs to it (see drainWait). Zero otherwise.
	drainFrom time.Time
}

// drainWait is how long a stream the server reset after its response
// (stream.drainFrom) waits for the rest of the request: the client's DATA
// in flight arrives within a round trip, usually well under this. The
// stream ends sooner when the request ends (END_STREAM), the client
// resets it, or the connection closes; otherwise at the first frame
// either way after drainWait.
const drainWait = time.Second

// drained finishes the streams that waited drainWait for their request
// after the server's reset, as of t.
func (c *conn) drained(t time.Time) {
	if c.draining == 0 {
		return
	}
	c.finishAll(t, "", func(st *stream) bool {
		return !st.drainFrom.IsZero() && t.Sub(st.drainFrom) >= drainWait
	})
}

// newStream tracks a new exchange on stream id that began at start.
func (c *conn) newStream(id uint32, start time.Time) *stream {
	st := &stream{
		ev: event.HTTP{
			FlowID: c.meta.FlowID,
			Seq:    id,
			Proto:  c.proto,
			Scheme: "http",
			Start:  start,
			Server: c.meta.Dst,
		},
		req:  body.New(c.opts.BodyLimit),
		resp: body.New(c.opts.BodyLimit),
	}
	if c.meta.TLS {
		st.ev.Scheme, st.ev.TLS = "https", true
	}
	c.streams[id] = st
	return st
}

// request applies a request header block (HEADERS or PUSH_PROMISE).
// Pseudo-header fields (RFC 9113 section 8.3.1) fill Method, Scheme,
// Authority and Path; the rest are ReqHeader.
func (st *stream) request(b *block) {
	for _, h := range b.pseudo {
		switch h.Name {
		case ":method":
			st.ev.Method = h.Value
		case ":scheme":
			st.ev.Scheme = h.Value
		case ":authority":
			st.ev.Authority = h.Value
		case ":path":
			st.ev.Path = h.Value
		}
	}
	if st.ev.Authority == "" {
		// RFC 9113 section 8.3.1: a request translated from HTTP/1.1
		// may carry Host instead of :authority.
		st.ev.Authority = headerValue(b.fields, "host")
	}
	st.ev.ReqHeader = b.fields
	st.reqHead = true
	st.req.Head(b.fields)
	if isGRPC(st.req.ContentType()) {
		st.grpc = newGRPCCall(st.ev.Path)
	}
}

// response applies the final response head.
func (st *stream) response(b *block, status int) {
	st.ev.Status = status
	st.ev.RespHeader = b.fields
	st.ev.RespStart = b.start
	st.respHead = true
	st.resp.Head(b.fields)
	if st.grpc == nil && isGRPC(st.resp.ContentType()) {
		st.grpc = newGRPCCall(st.ev.Path)
	}
}

// statusOf returns the :status of a response head, or 0 when it is
// missing or not a three-digit number.
func statusOf(pseudo []event.Header) int {
	for _, h := range pseudo {
		if h.Name != ":status" {
			continue
		}
		n, err := strconv.Atoi(h.Value)
		if err != nil || len(h.Value) != 3 {
			return 0
		}
		return n
	}
	return 0
}

// headerValue returns the value of the first field named name
// (case-insensitively), or "".
func headerValue(hs []event.Header, name string) string {
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// emitPhase emits a fresh copy of st's event at phase. Slices in the copy
// are only ever appended to afterwards, never changed in place.
func (c *conn) emitPhase(st *stream, phase event.HTTPPhase) {
	ev := st.ev
	ev.Phase = phase
	ev.ReqBody = st.req.Event()
	ev.RespBody = st.resp.Event()
	c.emit(&ev)
}

// finish ends st at t: its bodies are complete unless why says how the
// exchange was cut short. It emits PhaseDone and forgets the stream.
//
// A stream that waited for its request after the server's reset
// (drainFrom) ends complete, whatever cut the wait short, at the reset.
func (c *conn) finish(st *stream, t time.Time, why string) {
	delete(c.streams, st.ev.Seq)
	if !st.drainFrom.IsZero() {
		why, t = "", st.drainFrom
		c.draining--
	}
	complete := why == ""
	st.req.End(complete && st.reqEnded)
	st.resp.End(complete && st.respEnded)
	st.ev.End = t
	st.ev.Err = why
	if st.grpc != nil {
		st.ev.GRPC = st.grpc.result(st.ev.RespHeader, st.ev.RespTrailer)
	}
	c.emitPhase(st, event.PhaseDone)
}
