package jsonl

import (
	"net/netip"
	"time"

	"github.com/htapod/htapod/event"
)

// t0 is when the sample events happen.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)

// unknownEvent is a type the sink does not know.
type unknownEvent struct{}

func (unknownEvent) Kind() string     { return "future" }
func (unknownEvent) Flow() uint64     { return 0 }
func (unknownEvent) At() time.Time    { return time.Time{} }
func (unknownEvent) Net() event.Proto { return "" }

var (
	client   = netip.MustParseAddrPort("10.0.85.2:40000")
	server   = netip.MustParseAddrPort("203.0.113.10:443")
	server80 = netip.MustParseAddrPort("203.0.113.10:80")
)

// gzipJSON is a finished HTTP/1.1 GET whose response was gzip'd JSON.
func gzipJSON(phase event.HTTPPhase) *event.HTTP {
	h := &event.HTTP{FlowID: 7, Seq: 1, Phase: phase, Proto: "HTTP/1.1", Scheme: "https",
		Method: "GET", Authority: "api.lab.test", Path: "/v1/items?page=2&q=a%20b",
		ReqHeader: []event.Header{{Name: "Host", Value: "api.lab.test"}, {Name: "Accept", Value: "application/json"},
			{Name: "Cookie", Value: "sid=abc; theme=dark"}},
		Start: t0, Server: server}
	if phase == event.PhaseRequest {
		return h
	}
	h.Status, h.Reason, h.RespStart = 200, "OK", t0.Add(38*time.Millisecond)
	h.RespHeader = []event.Header{{Name: "Content-Type", Value: "application/json; charset=utf-8"},
		{Name: "Content-Encoding", Value: "gzip"}, {Name: "Set-Cookie", Value: "sid=def; Path=/; HttpOnly"}}
	if phase == event.PhaseResponse {
		return h
	}
	h.RespBody = event.Body{Size: 41, Encoding: "gzip", ContentType: "application/json",
		Data: []byte(`{"items":["<a>","b&c"]}`), DecodedSize: 23}
	h.End = t0.Add(40500 * time.Microsecond)
	return h
}

// samples are one or more events of each type, by golden file name.
var samples = []struct {
	name string
	e    event.Event
}{
	{"flow_open", &event.FlowOpen{ID: 7, Proto: event.TCP, Src: client, Dst: server, Upstream: server,
		Name: "api.lab.test", Time: t0}},
	{"flow_closed", &event.Flow{ID: 7, Proto: event.TCP, Src: client, Dst: server, Upstream: server,
		Name: "api.lab.test", Up: 615, Down: 12400, PacketsUp: 9, PacketsDown: 14,
		Start: t0, Ended: t0.Add(1500 * time.Millisecond), End: event.Closed}},
	{"flow_refused_via", &event.Flow{ID: 8, Proto: event.TCP, Src: client,
		Dst: netip.MustParseAddrPort("10.10.10.10:8080"), Upstream: netip.MustParseAddrPort("127.0.0.1:8080"),
		Start: t0, Ended: t0.Add(400 * time.Microsecond), End: event.Refused, Err: "connection refused"}},
	{"flow_udp_ipv6_idle", &event.Flow{ID: 9, Proto: event.UDP, Src: netip.MustParseAddrPort("[fd00::2]:5353"),
		Dst: netip.MustParseAddrPort("[2001:db8::53]:53"), Up: 40, Down: 120, PacketsUp: 1, PacketsDown: 1,
		Start: t0, Ended: t0.Add(30 * time.Second), End: event.Idle}},
	{"dns_resolver", &event.DNS{ID: 4660, Server: netip.MustParseAddrPort("10.0.85.1:53"), Transport: event.UDP,
		Name: "alias.lab.test", Type: "A", Rcode: "NOERROR", Answers: []string{"www.lab.test.", "203.0.113.10"},
		Start: t0, Duration: 1200 * time.Microsecond, Source: "htapod"}},
	{"dns_flow_nxdomain", &event.DNS{FlowID: 9, ID: 1, Server: netip.MustParseAddrPort("[2001:db8::53]:53"),
		Transport: event.UDP, Name: "nx.lab.test", Type: "AAAA", Rcode: "NXDOMAIN", Start: t0,
		Duration: 3 * time.Millisecond}},
	{"dns_truncated_error", &event.DNS{ID: 2, Server: netip.MustParseAddrPort("10.0.85.1:53"), Transport: event.UDP,
		Name: "big.lab.test", Type: "TXT", Rcode: "SERVFAIL", Start: t0, Duration: 2 * time.Second,
		Source: "192.0.2.53:53", Truncated: true, Err: "192.0.2.53:53: i/o timeout"}},
	{"http_request", gzipJSON(event.PhaseRequest)},
	{"http_response", gzipJSON(event.PhaseResponse)},
	{"http_done_gzip_json", gzipJSON(event.PhaseDone)},
	{"http_done_post_binary", &event.HTTP{FlowID: 3, Seq: 2, Phase: event.PhaseDone, Proto: "HTTP/1.0",
		Scheme: "http", Method: "POST", Authority: "upload.lab.test", Path: "/blob",
		ReqHeader: []event.Header{{Name: "Content-Type", Value: "application/octet-stream"}},
		ReqBody: event.Body{Size: 6, ContentType: "application/octet-stream",
			Data: []byte{0x00, 0xff, 0xfe, 'a', 0x80, 0x01}, DecodedSize: 6},
		Status: 201, Reason: "Created", Interim: []int{100},
		RespHeader: []event.Header{{Name: "Content-Length", Value: "0"}},
		Start:      t0, RespStart: t0.Add(5 * time.Millisecond), End: t0.Add(6 * time.Millisecond), Server: server80}},
	{"http_done_h2_grpc", &event.HTTP{FlowID: 11, Seq: 3, Phase: event.PhaseDone, Proto: "h2", Scheme: "https",
		Method: "POST", Authority: "grpc.lab.test", Path: "/lab.Echo/Say",
		ReqHeader:   []event.Header{{Name: "content-type", Value: "application/grpc"}, {Name: "te", Value: "trailers"}},
		ReqBody:     event.Body{Size: 12, ContentType: "application/grpc", DecodedSize: 12, Truncated: true},
		Status:      200,
		RespHeader:  []event.Header{{Name: "content-type", Value: "application/grpc"}},
		RespTrailer: []event.Header{{Name: "grpc-status", Value: "0"}},
		RespBody:    event.Body{Size: 9, ContentType: "application/grpc", Data: []byte("\x00\x00\x00\x00\x04ok!!"), DecodedSize: 9},
		GRPC:        &event.GRPC{Service: "lab.Echo", Method: "Say", ReqMsgs: []int{7}, RespMsgs: []int{4}, Status: 0},
		Start:       t0, RespStart: t0.Add(time.Millisecond), End: t0.Add(2 * time.Millisecond), Server: server}},
	{"http_done_error", &event.HTTP{FlowID: 12, Seq: 1, Phase: event.PhaseDone, Proto: "h2", Scheme: "https",
		Method: "GET", Authority: "slow.lab.test", Path: "/", ReqHeader: []event.Header{{Name: "accept", Value: "*/*"}},
		GRPC:  &event.GRPC{Service: "x", Method: "y", Status: -1},
		Start: t0, End: t0.Add(time.Second), Err: "stream reset: CANCEL", Server: server}},
	{"http_done_upgrade", &event.HTTP{FlowID: 13, Seq: 1, Phase: event.PhaseDone, Proto: "HTTP/1.1", Scheme: "http",
		Method: "GET", Authority: "ws.lab.test", Path: "/chat",
		ReqHeader: []event.Header{{Name: "Upgrade", Value: "websocket"}}, Status: 101, Reason: "Switching Protocols",
		RespHeader: []event.Header{{Name: "Upgrade", Value: "websocket"}}, Upgrade: "websocket",
		Start: t0, RespStart: t0.Add(time.Millisecond), End: t0.Add(time.Millisecond), Server: server80}},
	{"websocket_text", &event.WebSocket{FlowID: 13, Time: t0, Dir: event.Up, Opcode: "text", Size: 6, Data: []byte("héllo")}},
	{"websocket_binary_truncated", &event.WebSocket{FlowID: 13, Time: t0, Dir: event.Down, Opcode: "binary",
		Size: 100000, Data: []byte{1, 2, 3, 0xff}, Truncated: true}},
	{"websocket_compressed", &event.WebSocket{FlowID: 13, Time: t0, Dir: event.Down, Opcode: "text", Size: 5, Data: []byte("Hello"),
		Compressed: true, CompressedSize: 7}},
	{"websocket_not_inflated", &event.WebSocket{FlowID: 13, Time: t0, Dir: event.Down, Opcode: "text", Size: 30,
		Compressed: true, CompressedSize: 30, Err: "inflate: flate: corrupt input before offset 1"}},
	{"websocket_close", &event.WebSocket{FlowID: 13, Time: t0, Dir: event.Up, Opcode: "close", Size: 6,
		Data: []byte("\x03\xe8bye"), CloseCode: 1000, CloseReason: "bye"}},
	{"tls_intercepted", &event.TLS{FlowID: 7, Time: t0, Server: server, SNI: "api.lab.test",
		ALPNOffered: []string{"h2", "http/1.1"}, Intercepted: true, Version: "TLS 1.3", ALPN: "h2"}},
	{"tls_failed", &event.TLS{FlowID: 14, Time: t0, Server: server, SNI: "pinned.lab.test",
		Err: "client refused htapod's certificate", Alert: "bad certificate"}},
	{"tls_cert", &event.TLS{FlowID: 7, Time: t0, Server: server, SNI: "api.lab.test",
		ALPNOffered: []string{"h2"}, Intercepted: true, Version: "TLS 1.3", ALPN: "h2",
		VersionsOffered: []string{"TLS 1.3", "TLS 1.2"}, CipherSuite: "TLS_AES_128_GCM_SHA256",
		Cert: &event.Cert{Subject: "CN=api.lab.test", Issuer: "CN=Lab CA,O=htapod lab", DNSNames: []string{"api.lab.test"},
			IPs: []string{"203.0.113.10"}, NotBefore: t0, NotAfter: t0.Add(90 * 24 * time.Hour), Verified: event.VerifiedUpstreamCA}}},
	{"tls_untrusted", &event.TLS{FlowID: 16, Time: t0, Server: server, SNI: "untrusted.lab.test",
		VersionsOffered: []string{"TLS 1.3"}, Err: "upstream: tls: failed to verify certificate: x509: certificate signed by unknown authority",
		Cert: &event.Cert{Subject: "CN=untrusted.lab.test", Issuer: "CN=Other CA", DNSNames: []string{"untrusted.lab.test"},
			NotBefore: t0, NotAfter: t0.Add(time.Hour), Verified: event.VerifiedFailed, VerifyErr: "x509: certificate signed by unknown authority"}}},
	{"unparsed", &event.Unparsed{FlowID: 15, Time: t0, Dissector: "http/1", Reason: "malformed request line"}},
	{"notice", &event.Notice{Time: t0, Level: "warn", Message: "UDP flow table full"}},
	{"policy_denied", &event.Policy{FlowID: 9, Time: t0, Stage: event.StageConnect, Proto: event.TCP,
		Dst: netip.MustParseAddrPort("203.0.113.20:7"), Denied: true,
		Rule: "no rule matched (allow rules given: the rest is denied)",
		Process: &event.Process{PID: 41, Exe: "/usr/bin/curl", Argv: []string{"curl", "http://203.0.113.20:7/"},
			Parents: []event.Ancestor{{PID: 40, Exe: "/usr/bin/dash", Argv: []string{"sh", "-c", "curl http://203.0.113.20:7/"}}}}}},
	{"flow_open_process_unknown", &event.FlowOpen{ID: 10, Proto: event.UDP, Src: client,
		Dst: netip.MustParseAddrPort("203.0.113.53:53"), Upstream: netip.MustParseAddrPort("203.0.113.53:53"), Time: t0,
		Process: &event.Process{Err: "socket not found in a process (it closed the socket or exited)"}}},
	{"unknown", unknownEvent{}},
}
