package event

import (
	"net/netip"
	"time"
)

// Direction of bytes in a flow.
type Direction int

// Directions.
const (
	// Up is from the command to the destination.
	Up Direction = iota
	// Down is from the destination to the command.
	Down
)

func (d Direction) String() string {
	if d == Up {
		return "up"
	}
	return "down"
}

// Header is one header field, in the order and spelling seen on the wire
// (HTTP/2 names are lower case).
type Header struct {
	Name, Value string
}

// Body describes a message body.
type Body struct {
	// Size counts the body bytes as sent (after chunked framing is removed,
	// before content decoding).
	Size int64
	// Encoding is the Content-Encoding ("gzip", "br", …) or "".
	Encoding string
	// ContentType is the media type without parameters, or "".
	ContentType string
	// Data is the decoded body, at most the dissector's body limit.
	Data []byte
	// DecodedSize counts the decoded bytes (equal to Size when there is no
	// encoding); -1 when decoding failed.
	DecodedSize int64
	// Truncated says Data holds less than the whole decoded body.
	Truncated bool
}

// HTTPPhase says which part of an exchange an HTTP event reports.
type HTTPPhase string

// Phases, in order. Each is emitted once per exchange; Done always comes
// last, also for an exchange cut short (see HTTP.Err).
const (
	// PhaseRequest: the request head arrived (no body yet).
	PhaseRequest HTTPPhase = "request"
	// PhaseResponse: the response head arrived (no body yet).
	PhaseResponse HTTPPhase = "response"
	// PhaseDone: the exchange is over; bodies and timings are complete.
	PhaseDone HTTPPhase = "done"
)

// HTTP is one HTTP exchange (HTTP/1.x or HTTP/2), reported at each phase.
// Every emission is a fresh value holding everything known so far.
type HTTP struct {
	FlowID uint64
	// Seq numbers exchanges within a flow: 1, 2, … for HTTP/1.x, the stream
	// ID for HTTP/2.
	Seq   uint32
	Phase HTTPPhase
	// Proto is "HTTP/1.1", "HTTP/1.0", "h2" or "h2c".
	Proto  string
	Scheme string // "http" or "https"
	// TLS says the exchange was carried in TLS that htapod intercepted
	// (Scheme is what the request says, which a client may set itself).
	TLS    bool
	Method string
	// Authority is the Host header or :authority; Path the request target.
	Authority, Path string
	ReqHeader       []Header
	ReqTrailer      []Header
	ReqBody         Body
	// Status is 0 until the response head arrived. Interim (1xx) responses
	// are listed in Interim, not here.
	Status      int
	Reason      string
	Interim     []int
	RespHeader  []Header
	RespTrailer []Header
	RespBody    Body
	// Start is when the request head began, RespStart when the response
	// head began, End when the exchange ended.
	Start, RespStart, End time.Time
	// Upgrade is the protocol the connection switched to ("websocket",
	// "h2c") after a 101 response, or "".
	Upgrade string
	// GRPC is set for gRPC calls.
	GRPC *GRPC
	// Err says why an exchange ended early: "stream reset: CANCEL",
	// "connection closed", …; "" for a complete exchange.
	Err string
	// Server is the address the flow went to.
	Server netip.AddrPort
	// Process opened the flow; nil when htapod did not look it up.
	Process *Process
	// Action says htapod acted on the exchange instead of relaying it
	// unchanged: "mock", "replay", "replay miss", "fault delay:200ms", …
	// (see package respond); "" for a relayed exchange.
	Action string
}

// Kind implements Event.
func (*HTTP) Kind() string { return "http" }

// URL is the request's absolute URL.
func (h *HTTP) URL() string {
	if h.Method == "CONNECT" {
		return h.Authority
	}
	if h.Path == "*" { // OPTIONS * (RFC 9112 §3.2.4)
		return h.Scheme + "://" + h.Authority
	}
	return h.Scheme + "://" + h.Authority + h.Path
}

// GRPC summarises a gRPC call carried by an HTTP/2 exchange.
type GRPC struct {
	Service, Method string
	// ReqMsgs and RespMsgs are the sizes of the length-prefixed messages
	// each way.
	ReqMsgs, RespMsgs []int
	// Status is the grpc-status code (-1 when absent), Message grpc-message.
	Status  int
	Message string
}

// WebSocket is one WebSocket message (a whole message, after
// reassembling fragments) or control frame.
type WebSocket struct {
	FlowID uint64
	Time   time.Time
	// Server is the flow's destination and Host the name the command
	// used for it (DNS name or SNI; "" when unknown): a message is matched
	// by its connection's host as an HTTP exchange is.
	Server netip.AddrPort
	Host   string
	// TLS says the message was carried in TLS that htapod intercepted.
	TLS bool
	Dir Direction
	// Opcode: "text", "binary", "ping", "pong", "close".
	Opcode string
	Size   int64
	// Data is the payload (unmasked), at most the body limit.
	Data      []byte
	Truncated bool
	// CloseCode and CloseReason are set for close frames.
	CloseCode   int
	CloseReason string
	// Compressed says the message used permessage-deflate (RFC 7692).
	// Data and Size are then the inflated message, CompressedSize its size
	// on the wire. When it could not be inflated, Size is the compressed
	// size, Data is empty and Err says why.
	Compressed     bool
	CompressedSize int64
	Err            string
}

// Kind implements Event.
func (*WebSocket) Kind() string { return "websocket" }

// TLS describes the TLS of a flow: the ClientHello for every TLS flow,
// and what was negotiated when htapod intercepted it.
type TLS struct {
	FlowID uint64
	Time   time.Time
	Server netip.AddrPort
	// SNI and ALPNOffered come from the client's ClientHello.
	SNI         string
	ALPNOffered []string
	// Intercepted says htapod terminated the TLS (and the dissectors see
	// the plaintext); false for passthrough and failures.
	Intercepted bool
	// Version ("TLS 1.3") and ALPN are what was negotiated with the client.
	Version string
	ALPN    string
	// Err says why interception failed: the upstream's certificate was not
	// trusted, or the client refused htapod's (Alert says which alert).
	Err   string
	Alert string
	// VersionsOffered are the versions the client offered, in its order
	// ("TLS 1.3", "TLS 1.2"; GREASE values left out): its
	// supported_versions extension, or its legacy_version without one.
	VersionsOffered []string
	// CipherSuite is the suite negotiated with the client
	// ("TLS_AES_128_GCM_SHA256"); for passthrough, the one the server chose.
	CipherSuite string
	// Cert is the real server's certificate, when htapod connected to it
	// (intercepted, or failed because it was not trusted); nil otherwise.
	Cert *Cert
}

// Kind implements Event.
func (*TLS) Kind() string { return "tls" }

// How a real server's certificate was verified (Cert.Verified).
const (
	// VerifiedSystem: the chain ends at one of the host's system roots.
	VerifiedSystem = "system"
	// VerifiedUpstreamCA: the chain ends at a CA given with --upstream-ca.
	VerifiedUpstreamCA = "upstream-ca"
	// VerifiedInsecure: not verified (--insecure); VerifyErr says what
	// verification would have said, when it would have failed.
	VerifiedInsecure = "insecure"
	// VerifiedFailed: verification failed (VerifyErr says why), so the
	// interception failed.
	VerifiedFailed = "failed"
)

// Cert describes a server's leaf certificate and how htapod verified it.
type Cert struct {
	// Subject and Issuer are distinguished names in RFC 2253 form
	// ("CN=www.lab.test,O=Lab").
	Subject, Issuer string
	// DNSNames and IPs are the subject alternative names.
	DNSNames            []string
	IPs                 []string
	NotBefore, NotAfter time.Time
	// Verified is one of VerifiedSystem, VerifiedUpstreamCA,
	// VerifiedInsecure, VerifiedFailed.
	Verified  string
	VerifyErr string
}

// Unparsed says a dissector gave up on a flow: the flow goes on, relayed
// unchanged, but is no longer dissected.
type Unparsed struct {
	FlowID uint64
	Time   time.Time
	// Dissector is the protocol ("http/1", "h2", …), Reason why it stopped.
	Dissector, Reason string
}

// Kind implements Event.
func (*Unparsed) Kind() string { return "unparsed" }
