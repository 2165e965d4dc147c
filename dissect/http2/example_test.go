package http2_test

import (
	"bytes"
	"fmt"
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/dissect/http2"
	"github.com/htapod/htapod/event"
	xhttp2 "golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// headerBlock HPACK-encodes header fields given as name, value, …
func headerBlock(enc *hpack.Encoder, buf *bytes.Buffer, kv ...string) []byte {
	buf.Reset()
	for i := 0; i < len(kv); i += 2 {
		enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return bytes.Clone(buf.Bytes())
}

// Example dissects one h2c exchange: the client's preface and request,
// then the server's response, each direction given as it was relayed.
func Example() {
	var up, down bytes.Buffer
	var hbuf bytes.Buffer
	up.WriteString("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	client, server := xhttp2.NewFramer(&up, nil), xhttp2.NewFramer(&down, nil)
	cenc, senc := hpack.NewEncoder(&hbuf), hpack.NewEncoder(&hbuf)

	client.WriteSettings()
	client.WriteHeaders(xhttp2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true,
		BlockFragment: headerBlock(cenc, &hbuf, ":method", "GET", ":scheme", "http",
			":authority", "lab.test", ":path", "/hello")})
	server.WriteSettings()
	server.WriteHeaders(xhttp2.HeadersFrameParam{StreamID: 1, EndHeaders: true,
		BlockFragment: headerBlock(senc, &hbuf, ":status", "200", "content-type", "text/plain")})
	server.WriteData(1, true, []byte("hello, world\n"))

	s := http2.New(dissect.Meta{FlowID: 1}, dissect.Options{}, func(ev event.Event) {
		h := ev.(*event.HTTP)
		fmt.Println(h.Seq, h.Phase, h.Proto, h.Method, h.URL(), h.Status, h.RespBody.Size)
	})
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) // when the bytes were relayed
	s.Data(event.Up, up.Bytes(), now)
	s.Data(event.Down, down.Bytes(), now)
	s.Close(now)
	// Output:
	// 1 request h2c GET http://lab.test/hello 0 0
	// 1 response h2c GET http://lab.test/hello 200 0
	// 1 done h2c GET http://lab.test/hello 200 13
}
