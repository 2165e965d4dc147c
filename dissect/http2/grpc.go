package http2

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/htapod/htapod/event"
)

// maxGRPCMsgs bounds the message sizes kept per direction of a call; the
// messages beyond are not listed.
const maxGRPCMsgs = 4096

// isGRPC reports whether a media type is gRPC's: "application/grpc" or
// "application/grpc+proto", "application/grpc+json", …
func isGRPC(mediaType string) bool {
	return mediaType == "application/grpc" || strings.HasPrefix(mediaType, "application/grpc+")
}

// grpcCall follows the messages of one gRPC call.
type grpcCall struct {
	service, method string
	req, resp       grpcMsgs
}

// newGRPCCall starts a call to path, "/package.Service/Method".
func newGRPCCall(path string) *grpcCall {
	g := &grpcCall{}
	if p, ok := strings.CutPrefix(path, "/"); ok {
		if i := strings.LastIndexByte(p, '/'); i >= 0 {
			g.service, g.method = p[:i], p[i+1:]
		}
	}
	return g
}

// result summarises the call. grpc-status and grpc-message come from the
// trailers, or from the response head of a Trailers-Only response.
func (g *grpcCall) result(head, trailer []event.Header) *event.GRPC {
	r := &event.GRPC{
		Service:  g.service,
		Method:   g.method,
		ReqMsgs:  g.req.sizes,
		RespMsgs: g.resp.sizes,
		Status:   -1,
	}
	hs := trailer
	if headerValue(hs, "grpc-status") == "" {
		hs = head
	}
	if v := headerValue(hs, "grpc-status"); v != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
			r.Status = n
		}
	}
	r.Message = percentDecode(headerValue(hs, "grpc-message"))
	return r
}

// grpcMsgs reads the Length-Prefixed-Messages of one direction: a
// compressed flag byte and a 4-byte big-endian length before each
// message. Messages and prefixes may span DATA frames.
type grpcMsgs struct {
	prefix [5]byte
	have   int    // bytes of prefix read
	left   uint32 // bytes of the current message still to come
	sizes  []int
}

// write takes the next DATA payload of the direction.
func (m *grpcMsgs) write(p []byte) {
	for len(p) > 0 {
		if m.left > 0 {
			n := uint32(min(uint64(len(p)), uint64(m.left)))
			m.left -= n
			p = p[n:]
			continue
		}
		n := copy(m.prefix[m.have:], p)
		m.have += n
		p = p[n:]
		if m.have == len(m.prefix) {
			m.have = 0
			m.left = binary.BigEndian.Uint32(m.prefix[1:])
			if len(m.sizes) < maxGRPCMsgs {
				m.sizes = append(m.sizes, int(m.left))
			}
		}
	}
}

// percentDecode decodes grpc-message's percent-encoding; a '%' that does
// not start a valid escape stays as it is, as the gRPC spec asks of
// decoders ("PROTOCOL-HTTP2.md", Responses).
func percentDecode(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
