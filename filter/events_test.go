package filter

import (
	"net/netip"
	"time"

	"github.com/htapod/htapod/event"
)

// t0 is when the sample events happened.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// get is a finished HTTP/1.1 GET over TLS, answered 301 with a
// gzip-encoded JSON body (Data holds it decoded).
var get = &event.HTTP{
	FlowID: 1, Seq: 1, Phase: event.PhaseDone, Proto: "HTTP/1.1", Scheme: "https", TLS: true,
	Method: "GET", Authority: "www.lab.test:8443", Path: "/old?page=2",
	ReqHeader: []event.Header{
		{Name: "Host", Value: "www.lab.test:8443"},
		{Name: "Accept", Value: "application/json"},
		{Name: "Accept-Encoding", Value: "gzip"},
		{Name: "X-Request-Id", Value: "r-17"},
	},
	Status: 301, Reason: "Moved Permanently",
	RespHeader: []event.Header{
		{Name: "Content-Type", Value: "application/json; charset=utf-8"},
		{Name: "Content-Encoding", Value: "gzip"},
		{Name: "Location", Value: "/new?page=2"},
		{Name: "Server", Value: "nginx"},
	},
	RespBody: event.Body{
		Size: 52, Encoding: "gzip", ContentType: "application/json",
		Data: []byte(`{"moved":"/new","token":"Tok-abc123"}`), DecodedSize: 37,
	},
	Start: t0, RespStart: t0.Add(3 * time.Millisecond), End: t0.Add(4 * time.Millisecond),
	Server: netip.MustParseAddrPort("203.0.113.10:8443"),
}

// postReq is the request event of a POST to api.lab.test over h2c.
var postReq = &event.HTTP{
	FlowID: 2, Seq: 1, Phase: event.PhaseRequest, Proto: "h2c", Scheme: "http",
	Method: "POST", Authority: "api.lab.test", Path: "/v1/orders",
	ReqHeader: []event.Header{
		{Name: "content-type", Value: "application/x-www-form-urlencoded"},
		{Name: "authorization", Value: "Bearer s3cret"},
	},
	Start:  t0,
	Server: netip.MustParseAddrPort("203.0.113.20:80"),
}

// post is the same exchange done: the server answered 503.
var post = func() *event.HTTP {
	h := *postReq
	h.Phase = event.PhaseDone
	h.ReqBody = event.Body{Size: 13, ContentType: "application/x-www-form-urlencoded", Data: []byte("item=42&qty=1"), DecodedSize: 13}
	h.Status = 503
	h.RespHeader = []event.Header{{Name: "content-type", Value: "text/plain"}}
	h.RespBody = event.Body{Size: 13, ContentType: "text/plain", Data: []byte("upstream down"), DecodedSize: 13}
	h.RespStart, h.End = t0.Add(time.Millisecond), t0.Add(2*time.Millisecond)
	return &h
}()

// post201 is a POST to api.lab.test that succeeded.
var post201 = func() *event.HTTP {
	h := *post
	h.Seq = 3
	h.Status = 201
	h.RespBody = event.Body{}
	return &h
}()

// dnsUDP is a query htapod's resolver answered.
var dnsUDP = &event.DNS{
	ID: 7, Server: netip.MustParseAddrPort("10.0.2.3:53"), Transport: event.UDP,
	Name: "api.lab.test", Type: "A", Rcode: "NOERROR", Answers: []string{"203.0.113.20"},
	Start: t0, Source: "hosts",
}

// dnsTCP is a query the DNS dissector saw on a TCP flow to another server.
var dnsTCP = &event.DNS{
	FlowID: 5, ID: 8, Server: netip.MustParseAddrPort("192.0.2.53:53"), Transport: event.TCP,
	Name: "big.lab.test.", Type: "CNAME", Rcode: "NOERROR", Answers: []string{"alias.lab.test."},
	Start: t0,
}

// upgrade is the exchange that opened a WebSocket on flow 3.
var upgrade = &event.HTTP{
	FlowID: 3, Seq: 1, Phase: event.PhaseDone, Proto: "HTTP/1.1", Scheme: "http",
	Method: "GET", Authority: "ws.lab.test", Path: "/chat",
	ReqHeader:  []event.Header{{Name: "Upgrade", Value: "websocket"}},
	Status:     101,
	RespHeader: []event.Header{{Name: "Upgrade", Value: "websocket"}},
	Upgrade:    "websocket",
	Server:     netip.MustParseAddrPort("203.0.113.30:80"),
}

// WebSocket messages of flow 3.
var (
	wsUp   = &event.WebSocket{FlowID: 3, Time: t0, Dir: event.Up, Opcode: "text", Size: 18, Data: []byte(`{"op":"subscribe"}`)}
	wsDown = &event.WebSocket{FlowID: 3, Time: t0, Dir: event.Down, Opcode: "text", Size: 9, Data: []byte("hello Ada")}
	wsEnd  = &event.WebSocket{FlowID: 3, Time: t0, Dir: event.Down, Opcode: "close", CloseCode: 1001, CloseReason: "going away"}
)

// tlsHello is the TLS of flow 1.
var tlsHello = &event.TLS{
	FlowID: 1, Time: t0, Server: netip.MustParseAddrPort("203.0.113.10:8443"),
	SNI: "www.lab.test", ALPNOffered: []string{"h2", "http/1.1"},
	Intercepted: true, Version: "TLS 1.3", ALPN: "http/1.1",
}

// Flows.
var (
	flowTCP = &event.Flow{
		ID: 1, Proto: event.TCP,
		Src:  netip.MustParseAddrPort("10.0.2.100:40000"),
		Dst:  netip.MustParseAddrPort("203.0.113.10:8443"),
		Name: "www.lab.test", Up: 600, Down: 900, End: event.Closed,
	}
	flowUDP = &event.Flow{
		ID: 4, Proto: event.UDP,
		Src: netip.MustParseAddrPort("10.0.2.100:5000"),
		Dst: netip.MustParseAddrPort("198.51.100.7:5353"),
		Up:  40, Down: 0, End: event.Idle,
	}
)

// Events of no interest to most terms.
var (
	notice   = &event.Notice{Time: t0, Level: "warn", Message: "www.lab.test: certificate not trusted"}
	unparsed = &event.Unparsed{FlowID: 2, Time: t0, Dissector: "h2", Reason: "bad frame"}
)

// samples are the sample events by name, in the order tests list them.
var samples = []struct {
	name string
	e    event.Event
}{
	{"get", get},
	{"postReq", postReq},
	{"post", post},
	{"post201", post201},
	{"dnsUDP", dnsUDP},
	{"dnsTCP", dnsTCP},
	{"upgrade", upgrade},
	{"wsUp", wsUp},
	{"wsDown", wsDown},
	{"wsEnd", wsEnd},
	{"tls", tlsHello},
	{"flowTCP", flowTCP},
	{"flowUDP", flowUDP},
	{"notice", notice},
	{"unparsed", unparsed},
}
