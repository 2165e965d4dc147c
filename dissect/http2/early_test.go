package http2

import (
	"slices"
	"strings"
	"testing"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
	"golang.org/x/net/http2"
)

// TestEarlyResponse: a server answers a POST (405) and resets the stream
// with NO_ERROR before the request body arrived. The body the client had
// sent still belongs to the exchange, whenever it comes, and the done
// event carries it; the wait ends with END_STREAM, the client's reset,
// the connection's close, or after drainWait.
func TestEarlyResponse(t *testing.T) {
	const body = `{"order":"early-405"}`
	post := func(c *conv) {
		c.client.headers(1, false, ":method", "POST", ":scheme", "https", ":authority", "example.com", ":path", "/data.json",
			"content-type", "application/json")
		c.server.headers(1, false, ":status", "405", "content-type", "text/html")
		c.server.data(1, true, []byte("<h1>405</h1>"))
		c.server.rst(1, http2.ErrCodeNo)
	}
	// at gives each chunk its time: 1 ms apart, or after drainWait from
	// chunk late on.
	tests := []struct {
		name  string
		build func(c *conv)
		late  int // chunks from this index on come after drainWait; 0: none
		want  string
	}{
		{"body after the reset, with END_STREAM", func(c *conv) {
			post(c)
			c.client.data(1, true, []byte(body))
		}, 0, "1 done 405 req=21/21 resp=12/12 body=" + body},
		{"body in two frames, then the client's reset", func(c *conv) {
			post(c)
			c.client.data(1, false, []byte(body[:5]))
			c.client.data(1, false, []byte(body[5:]))
			c.client.rst(1, http2.ErrCodeCancel)
		}, 0, "1 done 405 req=21/21 resp=12/12 body=" + body},
		{"body, then the connection closes", func(c *conv) {
			post(c)
			c.client.data(1, false, []byte(body))
		}, 0, "1 done 405 req=21/21 resp=12/12 body=" + body},
		{"no body before drainWait", func(c *conv) {
			post(c)
			c.client.chatter()
			c.client.data(1, true, []byte(body)) // too late: ignored
		}, 6, "1 done 405 req=0/0 resp=12/12 body="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConv(t, true)
			tt.build(c)
			var evs []event.Event
			s := New(testMeta, dissect.Options{}, func(e event.Event) { evs = append(evs, e) })
			for i, ch := range c.chunks {
				at := chunkTime(i)
				if tt.late > 0 && i >= tt.late {
					at = at.Add(drainWait)
				}
				if err := s.Data(ch.dir, ch.b, at); err != nil {
					t.Fatalf("Data(chunk %d) = %v", i, err)
				}
			}
			s.Close(closeTime)
			var done []string
			for _, e := range evs {
				if h, ok := e.(*event.HTTP); ok && h.Phase == event.PhaseDone {
					done = append(done, line(h)+" body="+string(h.ReqBody.Data))
					if h.Err != "" || !h.End.Equal(chunkTime(4)) {
						t.Errorf("done: err %q, end %v; want no error, the reset's time %v", h.Err, h.End, chunkTime(4))
					}
				}
			}
			if !slices.Equal(done, []string{tt.want}) {
				t.Errorf("done events:\n%s\nwant:\n%s", strings.Join(done, "\n"), tt.want)
			}
		})
	}
}
