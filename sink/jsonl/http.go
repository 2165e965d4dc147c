package jsonl

import (
	"github.com/htapod/htapod/event"
)

// httpObject is one phase of an exchange. Each phase repeats what was
// known before, so a reader that only wants whole exchanges keeps the
// "done" lines.
type httpObject struct {
	header
	Seq       uint32          `json:"seq"`
	Phase     event.HTTPPhase `json:"phase"`
	Proto     string          `json:"proto"`
	Scheme    string          `json:"scheme"`
	Method    string          `json:"method"`
	URL       string          `json:"url"`
	Authority string          `json:"authority"`
	Path      string          `json:"path"`
	Server    string          `json:"server,omitempty"`
	Request   message         `json:"request"`
	// Status, Reason and Response are left out until the response head
	// arrived (and for an exchange that ended without one).
	Status   int      `json:"status,omitempty"`
	Reason   string   `json:"reason,omitempty"`
	Interim  []int    `json:"interim,omitempty"`
	Response *message `json:"response,omitempty"`
	Upgrade  string   `json:"upgrade,omitempty"`
	GRPC     *grpc    `json:"grpc,omitempty"`
	// Times: resp_start once the response head arrived, end and
	// duration_ms (end − start) once the exchange is done.
	Start      string         `json:"start,omitempty"`
	RespStart  string         `json:"resp_start,omitempty"`
	End        string         `json:"end,omitempty"`
	DurationMS *float64       `json:"duration_ms,omitempty"`
	Error      string         `json:"error,omitempty"`
	Process    *processObject `json:"process,omitempty"`
	// Action says htapod answered or disturbed the exchange ("mock",
	// "replay", "fault delay:200ms"); left out for a relayed one.
	Action string `json:"action,omitempty"`
}

// message is the request or the response of an exchange.
type message struct {
	// Headers are [name, value] pairs in wire order and spelling; [] when
	// there are none.
	Headers  [][2]string `json:"headers"`
	Trailers [][2]string `json:"trailers,omitempty"`
	// Body is left out when no body bytes were seen (yet).
	Body *body `json:"body,omitempty"`
}

type body struct {
	Size        int64  `json:"size"`
	Encoding    string `json:"encoding,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	// DecodedSize is -1 when decoding failed.
	DecodedSize int64 `json:"decoded_size"`
	Truncated   bool  `json:"truncated,omitempty"`
	payload
}

type grpc struct {
	Service  string `json:"service"`
	Method   string `json:"method"`
	ReqMsgs  []int  `json:"req_msgs"`
	RespMsgs []int  `json:"resp_msgs"`
	// Status is left out when the call had no grpc-status.
	Status  *int   `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

func httpJSON(h header, e *event.HTTP) httpObject {
	o := httpObject{header: h, Seq: e.Seq, Phase: e.Phase, Proto: e.Proto, Scheme: e.Scheme,
		Method: e.Method, URL: e.URL(), Authority: e.Authority, Path: e.Path,
		Server: addr(e.Server), Request: newMessage(e.ReqHeader, e.ReqTrailer, &e.ReqBody),
		Status: e.Status, Reason: e.Reason, Interim: e.Interim, Upgrade: e.Upgrade,
		Start: stamp(e.Start), RespStart: stamp(e.RespStart), End: stamp(e.End), Error: e.Err,
		Process: processJSON(e.Process), Action: e.Action}
	if e.Status != 0 {
		m := newMessage(e.RespHeader, e.RespTrailer, &e.RespBody)
		o.Response = &m
	}
	if !e.End.IsZero() && !e.Start.IsZero() {
		d := millis(e.End.Sub(e.Start))
		o.DurationMS = &d
	}
	if g := e.GRPC; g != nil {
		o.GRPC = &grpc{Service: g.Service, Method: g.Method,
			ReqMsgs: orEmpty(g.ReqMsgs), RespMsgs: orEmpty(g.RespMsgs), Message: g.Message}
		if g.Status >= 0 {
			status := g.Status
			o.GRPC.Status = &status
		}
	}
	return o
}

func newMessage(headers, trailers []event.Header, b *event.Body) message {
	m := message{Headers: pairs(headers)}
	if len(trailers) > 0 {
		m.Trailers = pairs(trailers)
	}
	if b.Size > 0 || len(b.Data) > 0 {
		m.Body = &body{Size: b.Size, Encoding: b.Encoding, ContentType: b.ContentType,
			DecodedSize: b.DecodedSize, Truncated: b.Truncated, payload: newPayload(b.Data)}
	}
	return m
}

// pairs turns header fields into [name, value] pairs, never nil.
func pairs(hs []event.Header) [][2]string {
	p := make([][2]string, len(hs))
	for i, h := range hs {
		p[i] = [2]string{h.Name, h.Value}
	}
	return p
}

func orEmpty(s []int) []int {
	if s == nil {
		return []int{}
	}
	return s
}
