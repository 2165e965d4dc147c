package http1_test

import (
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/dissect/http1"
	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/sink/text"
)

// BenchmarkKeepAlive is the dissector's and the text report's work for
// one keep-alive exchange of the benchmark's shape (a GET, a 1 KiB
// response), as htapod does it per request: keeping bodies (the default
// limit, as with -b, --json or --har) and not (the text report alone).
func BenchmarkKeepAlive(b *testing.B) {
	for _, tt := range []struct {
		name  string
		limit int
	}{{"kept", 0}, {"counted", -1}} {
		b.Run(tt.name, func(b *testing.B) { keepAlive(b, tt.limit) })
	}
}

func keepAlive(b *testing.B, limit int) {
	req := []byte("GET /1k HTTP/1.1\r\nHost: www.lab.test\r\nUser-Agent: wrk\r\n\r\n")
	body := make([]byte, 1024)
	resp := append([]byte("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Tue, 01 Dec 2026 02:00:00 GMT\r\nContent-Type: application/octet-stream\r\nContent-Length: 1024\r\nConnection: keep-alive\r\nETag: \"x\"\r\nAccept-Ranges: bytes\r\n\r\n"), body...)
	meta := dissect.Meta{FlowID: 1, Proto: event.TCP, Src: netip.MustParseAddrPort("10.0.85.2:40000"), Dst: netip.MustParseAddrPort("203.0.113.10:80"), Name: "www.lab.test", Start: time.Now()}
	sink := text.New(io.Discard)
	s := http1.New(meta, dissect.Options{BodyLimit: limit}, sink.Handle)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		s.Data(event.Up, req, now)
		s.Data(event.Down, resp, now)
	}
}
