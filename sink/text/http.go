package text

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/htapod/htapod/event"
)

// midWidth is where the right-hand column (protocol, duration) starts.
const midWidth = 62

// http renders an exchange: the request line when its head arrives, the
// response line when the exchange is over (sizes and duration are true
// then).
func (s *Sink) http(h *event.HTTP) string {
	var b strings.Builder
	switch h.Phase {
	case event.PhaseRequest:
		s.writeHead(&b, h)
	case event.PhaseDone:
		if s.opts.Bodies && h.ReqBody.Size > 0 {
			b.WriteString("       " + s.paint(dim, "request body:") + "\n")
			s.writeBody(&b, &h.ReqBody)
		}
		b.WriteString(columns(s.paint(cyan, "←")+"    "+s.response(h), Duration(h.End.Sub(h.Start))))
		if s.opts.Headers && h.Status != 0 {
			s.writeHeaders(&b, h.RespHeader)
			s.writeHeaders(&b, h.RespTrailer)
		}
		if s.opts.Bodies && h.RespBody.Size > 0 {
			s.writeBody(&b, &h.RespBody)
		}
	}
	return b.String()
}

// writeHead writes the request line (and headers).
func (s *Sink) writeHead(b *strings.Builder, h *event.HTTP) {
	b.WriteString(columns(s.paint(cyan, "→")+"    "+h.Method+" "+s.mark(h.URL()), ProtoName(h.Proto)))
	if s.opts.Headers {
		s.writeHeaders(b, h.ReqHeader)
	}
}

// mark highlights the Highlight ranges of t (reverse video).
func (s *Sink) mark(t string) string {
	if !s.opts.Color || s.opts.Highlight == nil {
		return t
	}
	spans := s.opts.Highlight(t)
	if len(spans) == 0 {
		return t
	}
	var b strings.Builder
	last := 0
	for _, sp := range spans {
		if sp.Start < last || sp.End > len(t) || sp.Start >= sp.End {
			continue
		}
		b.WriteString(t[last:sp.Start])
		b.WriteString("\x1b[7m" + t[sp.Start:sp.End] + reset)
		last = sp.End
	}
	b.WriteString(t[last:])
	return b.String()
}

// response is the middle of a response line: status, type, size, or what
// went wrong.
func (s *Sink) response(h *event.HTTP) string {
	if h.Status == 0 {
		out := s.paint(red, "✗ "+orDefault(h.Err, "no response"))
		if h.Action != "" {
			out += "  " + s.paint(yellow, "["+h.Action+"]")
		}
		return out
	}
	reason := h.Reason
	if reason == "" {
		reason = http.StatusText(h.Status)
	}
	parts := []string{s.paint(statusColor(h.Status), strconv.Itoa(h.Status)+" "+reason)}
	if g := h.GRPC; g != nil {
		parts = append(parts, grpcSummary(g))
	} else {
		if h.RespBody.ContentType != "" {
			parts = append(parts, h.RespBody.ContentType)
		}
		parts = append(parts, bodySize(&h.RespBody))
	}
	if h.Upgrade != "" {
		parts = append(parts, "→ "+h.Upgrade)
	}
	if h.Err != "" {
		parts = append(parts, s.paint(red, "✗ "+h.Err))
	}
	if h.Action != "" {
		parts = append(parts, s.paint(yellow, "["+h.Action+"]"))
	}
	return strings.Join(parts, "  ")
}

// grpcCodes name gRPC status codes (grpc/codes).
var grpcCodes = []string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}

func grpcSummary(g *event.GRPC) string {
	status := fmt.Sprintf("grpc %d", g.Status)
	if g.Status >= 0 && g.Status < len(grpcCodes) {
		status = "grpc " + grpcCodes[g.Status]
	}
	if g.Message != "" {
		status += " " + g.Message
	}
	sum := func(ms []int) int64 {
		var n int64
		for _, m := range ms {
			n += int64(m)
		}
		return n
	}
	return fmt.Sprintf("%s  %s/%s  %d msg ↑ %s  %d msg ↓ %s", status, g.Service, g.Method,
		len(g.ReqMsgs), Size(sum(g.ReqMsgs)), len(g.RespMsgs), Size(sum(g.RespMsgs)))
}

// bodySize is "12.4 KB (gzip 3.1 KB)" for an encoded body, "169 B" else.
func bodySize(b *event.Body) string {
	if b.Encoding == "" || b.Encoding == "identity" {
		return Size(b.Size)
	}
	if b.DecodedSize < 0 {
		return fmt.Sprintf("%s %s (not decoded)", b.Encoding, Size(b.Size))
	}
	return fmt.Sprintf("%s (%s %s)", Size(b.DecodedSize), b.Encoding, Size(b.Size))
}

// ProtoName is an HTTP version as the report shows it: "http/1.1", "h2".
func ProtoName(p string) string {
	switch p { // the usual ones without an allocation: one per exchange
	case "HTTP/1.1":
		return "http/1.1"
	case "HTTP/1.0":
		return "http/1.0"
	}
	return strings.ToLower(p)
}

// blanks pads columns: a slice of it costs no allocation of its own.
var blanks = strings.Repeat(" ", midWidth)

// columns pads left so that right starts at midWidth (visible runes).
func columns(left, right string) string {
	pad := 2
	if n := visibleLen(left); n < midWidth {
		pad = midWidth - n
	}
	return left + blanks[:pad] + right + "\n"
}

func (s *Sink) writeHeaders(b *strings.Builder, hs []event.Header) {
	for _, h := range hs {
		b.WriteString("       " + s.mark(h.Name+": "+h.Value) + "\n")
	}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// websocket renders one message or control frame.
func (s *Sink) websocket(w *event.WebSocket) string {
	arrow := "↑"
	if w.Dir == event.Down {
		arrow = "↓"
	}
	line := fmt.Sprintf("ws   %s %s  %s", arrow, w.Opcode, Size(w.Size))
	if w.Opcode == "close" {
		line += fmt.Sprintf("  %d %s", w.CloseCode, w.CloseReason)
	}
	if w.Compressed {
		line += fmt.Sprintf("  (deflate %s)", Size(w.CompressedSize))
	}
	var b strings.Builder
	b.WriteString(line + "\n")
	if w.Err != "" {
		b.WriteString("       " + s.paint(red, "✗ "+w.Err) + "\n")
	}
	if !s.opts.Bodies || len(w.Data) == 0 {
		return b.String()
	}
	switch w.Opcode {
	case "text":
		s.writeBody(&b, &event.Body{Data: w.Data, Size: w.Size, DecodedSize: w.Size, Truncated: w.Truncated, ContentType: messageType(w.Data)})
	case "binary":
		b.WriteString(fmt.Sprintf("       [binary, %s, %s]\n", Size(w.Size), http.DetectContentType(w.Data)))
	}
	return b.String()
}

// messageType is the media type of a WebSocket text message: JSON when
// it parses as a JSON object or array (shown pretty-printed like an HTTP
// body), else text.
func messageType(data []byte) string {
	if t := bytes.TrimSpace(data); len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(t) {
		return "application/json"
	}
	return "text/plain"
}

// tls renders a TLS event: failures always, details when verbose.
func (s *Sink) tls(t *event.TLS) string {
	host := orDefault(t.SNI, t.Server.String())
	if t.Err != "" {
		return s.paint(red, fmt.Sprintf("tls  %s  ✗ %s", host, t.Err)) + "\n" + s.tlsDetails(t)
	}
	if !s.opts.Verbose {
		return ""
	}
	how := "passthrough"
	if t.Intercepted {
		how = "intercepted"
	}
	parts := []string{"tls ", host, orDefault(t.Version, "?")}
	if t.ALPN != "" {
		parts = append(parts, t.ALPN)
	} else if len(t.ALPNOffered) > 0 {
		parts = append(parts, "offered "+strings.Join(t.ALPNOffered, ","))
	}
	parts = append(parts, how)
	return s.paint(dim, strings.Join(parts, "  ")) + "\n" + s.tlsDetails(t)
}
