package http1_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/dissect/http1"
	"github.com/htapod/htapod/event"
)

// A relay feeds both directions of a connection as it forwards them; the
// dissector reports each exchange at its request, response and end.
func Example() {
	meta := dissect.Meta{FlowID: 1, Dst: netip.MustParseAddrPort("192.0.2.1:80")}
	s := http1.New(meta, dissect.Options{}, func(e event.Event) {
		if h, ok := e.(*event.HTTP); ok {
			fmt.Println(h.Seq, h.Phase, h.Method, h.URL(), h.Status, h.RespBody.Size)
		}
	})
	t := time.Now()
	s.Data(event.Up, []byte("GET /hi HTTP/1.1\r\nHost: example.test\r\n\r\n"), t)
	s.Data(event.Down, []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel"), t)
	s.Data(event.Down, []byte("lo"), t)
	s.Close(t)
	// Output:
	// 1 request GET http://example.test/hi 0 0
	// 1 response GET http://example.test/hi 200 0
	// 1 done GET http://example.test/hi 200 5
}
