package http1_test

import (
	"testing"

	"github.com/htapod/htapod/dissect"
)

// goldenCases are captured byte streams; their events are in
// testdata/<name>.golden.
var goldenCases = []struct {
	name   string
	script []step
}{
	{"keepalive", []step{
		up("GET /one HTTP/1.1\r\nHost: example.test\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n"),
		down("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n\r\nfirst"),
		up("GET /two HTTP/1.1\r\nHost: example.test\r\n\r\n"),
		down("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"),
		up("POST /three?x=1 HTTP/1.1\r\nHost: example.test\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"a\":[1,2,3]}"),
		down("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
	}},
	{"pipelining", []step{
		up("GET /a HTTP/1.1\r\nHost: example.test\r\n\r\n" +
			"GET /b HTTP/1.1\r\nHost: example.test\r\n\r\n" +
			"HEAD /c HTTP/1.1\r\nHost: example.test\r\n\r\n"),
		down("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA" +
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nB\r\n0\r\n\r\n" +
			"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"),
	}},
	{"chunked_trailers", []step{
		up("POST /upload HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\nTrailer: Digest\r\n\r\n" +
			"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nDigest: sha-256=abc\r\n\r\n"),
		down("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n" +
			"A\r\n0123456789\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Checksum: 42\r\nX-Other: yes\r\n\r\n"),
		up("GET /next HTTP/1.1\r\nHost: example.test\r\n\r\n"),
		down("HTTP/1.1 204 No Content\r\n\r\n"),
	}},
	{"head_304_204", []step{
		up("HEAD /big HTTP/1.1\r\nHost: example.test\r\n\r\n"),
		down("HTTP/1.1 200 OK\r\nContent-Length: 123456\r\nContent-Type: application/octet-stream\r\n\r\n"),
		up("GET /cached HTTP/1.1\r\nHost: example.test\r\nIf-None-Match: \"v1\"\r\n\r\n"),
		down("HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 42\r\n\r\n"),
		up("DELETE /thing HTTP/1.1\r\nHost: example.test\r\n\r\n"),
		down("HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n"),
		up("GET /after HTTP/1.1\r\nHost: example.test\r\n\r\n"),
		down("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
	}},
	{"continue", []step{
		up("PUT /file HTTP/1.1\r\nHost: example.test\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n"),
		down("HTTP/1.1 100 Continue\r\n\r\n"),
		up("hello world"),
		down("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"),
		down("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone"),
	}},
	{"close_delimited", []step{
		up("GET /old HTTP/1.0\r\n\r\n"),
		down("HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>"),
		down("...</html>\n"),
		endDown,
		endUp,
	}},
	{"websocket", []step{
		up("GET /chat HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"),
		down("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"),
		// RFC 6455 §5.7: a masked "Hello" from the client.
		up("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"),
		// A fragmented binary message from the server, with a ping inside.
		down("\x02\x03abc" + "\x89\x00" + "\x00\x02de" + "\x80\x01f"),
		// A masked ping "hi" from the client, the server's pong.
		up("\x89\x82\x01\x02\x03\x04" + string([]byte{'h' ^ 1, 'i' ^ 2})),
		down("\x8a\x02hi"),
		// Close 1000 "bye", masked with a zero key, and the server's echo.
		up("\x88\x85\x00\x00\x00\x00\x03\xe8bye"),
		down("\x88\x05\x03\xe8bye"),
	}},
	{"connect", []step{
		up("CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n\x16\x03\x01\x00\x05hello"),
		down("HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03\x00\x02hi"),
		up("GET / HTTP/1.1\r\nthis is encrypted, not HTTP"),
	}},
	{"connect_refused", []step{
		up("CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n"),
		down("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 4\r\n\r\nauth"),
		down("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
	}},
	{"h2c_without_http2", []step{
		up("GET / HTTP/1.1\r\nHost: example.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"),
		down("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"),
		up("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
	}},
	{"absolute_form", []step{
		up("GET http://other.test:8080/p?q HTTP/1.1\r\nHost: ignored.test\r\nProxy-Connection: keep-alive\r\n\r\n"),
		down("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
		up("OPTIONS * HTTP/1.1\r\n\r\n"),
		down("HTTP/1.1 200 OK\r\nAllow: GET\r\nContent-Length: 0\r\n\r\n"),
	}},
	{"lenient", []step{
		// Bare LF line ends, an empty line first, obs-fold, no reason phrase.
		up("\r\nGET /lf HTTP/1.1\nHost: example.test\nX-Folded: one\n  two\n\n"),
		down("HTTP/1.1 200\nContent-Length: 2\n\nok"),
	}},
	{"cut_short", []step{
		up("GET /slow HTTP/1.1\r\nHost: example.test\r\n\r\n"),
		down("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial"),
		up("POST /unanswered HTTP/1.1\r\nHost: example.test\r\nContent-Length: 50\r\n\r\nabc"),
	}},
	{"no_response", []step{
		up("GET /nothing HTTP/1.1\r\nHost: example.test\r\n\r\n"),
		endUp,
		endDown,
	}},
	{"garbage", []step{
		up("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 random TLS bytes\r\n\r\n"),
	}},
	{"bad_header", []step{
		up("GET / HTTP/1.1\r\nHost example.test\r\n\r\n"),
	}},
	{"response_first", []step{
		down("HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n"),
	}},
	{"bad_chunk", []step{
		up("GET / HTTP/1.1\r\nHost: example.test\r\n\r\n"),
		down("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
	}},
	{"conflicting_length", []step{
		up("POST / HTTP/1.1\r\nHost: example.test\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
	}},
}

// TestGolden feeds each captured stream whole, a byte at a time and at
// random split points, and compares the events with the golden files.
func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, tc.name, runAll(t, testMeta, dissect.Options{}, tc.script))
		})
	}
}
