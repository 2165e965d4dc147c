package http2

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
	"golang.org/x/net/http2"
)

// dissectTest is a conversation and what dissecting it must emit.
type dissectTest struct {
	name string
	// upgraded uses NewUpgraded instead of New; tls sets Meta.TLS.
	upgraded, tls bool
	opts          dissect.Options
	// build writes the conversation; the client preface is already sent.
	build func(c *conv)
	// want are the events as line summarises them.
	want    []string
	wantErr error
	// check looks at what the lines do not show.
	check func(t *testing.T, evs []event.Event)
}

var testMeta = dissect.Meta{
	FlowID: 7,
	Proto:  event.TCP,
	Src:    netip.MustParseAddrPort("10.0.0.2:40000"),
	Dst:    netip.MustParseAddrPort("203.0.113.10:443"),
}

// run dissects tc's conversation fed as f.
func (tc *dissectTest) run(t *testing.T, f feeding) result {
	t.Helper()
	c := newConv(t, true)
	tc.build(c)
	meta := testMeta
	meta.TLS = tc.tls
	return dissectChunks(t, c.chunks, f, func(emit dissect.Emit) dissect.Stream {
		if tc.upgraded {
			return NewUpgraded(meta, tc.opts, emit)
		}
		return New(meta, tc.opts, emit)
	})
}

// runTests runs each test with every feeding and checks that all of them
// emit the same events.
func runTests(t *testing.T, tests []dissectTest) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var first result
			for i, f := range feedings {
				res := tc.run(t, f)
				if tc.wantErr == nil && res.err != nil || tc.wantErr != nil && !errors.Is(res.err, tc.wantErr) {
					t.Fatalf("%s: error %v; want %v", f.name, res.err, tc.wantErr)
				}
				if i == 0 {
					first = res
					if got := lines(res.evs); !slices.Equal(got, tc.want) {
						t.Fatalf("%s: events:\n%s\nwant:\n%s", f.name, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
					}
					if tc.check != nil {
						tc.check(t, res.evs)
					}
					continue
				}
				got, want := res.evs, first.evs
				if f.coalesce {
					got, want = withoutTimes(got), withoutTimes(want)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: events differ from feeding frame by frame:\n%s\nwant:\n%s", f.name,
						strings.Join(lines(res.evs), "\n"), strings.Join(lines(first.evs), "\n"))
				}
			}
		})
	}
}

// page is a response body; gzPage is it gzipped.
var (
	page   = []byte(strings.Repeat("<p>hello, h2</p>\n", 40))
	gzPage = gzipBytes(page)
)

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// exchangeTests are conversations of whole exchanges; the fuzz seeds are made
// of them too.
func exchangeTests() []dissectTest {
	return []dissectTest{{
		name: "GET with gzip response",
		tls:  true,
		build: func(c *conv) {
			c.open()
			c.get(1, "/index.html", "accept-encoding", "gzip")
			c.server.headers(1, false, ":status", "200", "content-type", "text/html; charset=utf-8",
				"content-encoding", "gzip")
			c.server.data(1, false, gzPage[:10])
			c.server.data(1, true, gzPage[10:])
		},
		want: []string{
			"1 request GET https://example.com/index.html",
			"1 response 200",
			fmt.Sprintf("1 done 200 req=0/0 resp=%d/%d", len(gzPage), len(page)),
		},
		check: func(t *testing.T, evs []event.Event) {
			req := httpEvent(t, evs, 1, event.PhaseRequest)
			if req.Proto != "h2" || req.Scheme != "https" || req.FlowID != 7 || req.Server != testMeta.Dst {
				t.Errorf("request = %+v; want Proto h2, Scheme https, FlowID 7, Server %v", req, testMeta.Dst)
			}
			want := []event.Header{{Name: "accept-encoding", Value: "gzip"}}
			if !reflect.DeepEqual(req.ReqHeader, want) {
				t.Errorf("ReqHeader = %v; want %v", req.ReqHeader, want)
			}
			done := httpEvent(t, evs, 1, event.PhaseDone)
			b := done.RespBody
			if !bytes.Equal(b.Data, page) || b.Encoding != "gzip" || b.ContentType != "text/html" || b.Truncated {
				t.Errorf("RespBody = %+v; want the page, gzip, text/html", b)
			}
			// chunks: 0 preface, 1-4 settings, 5 request, 6 response head, 8 last DATA.
			if done.Start != chunkTime(5) || done.RespStart != chunkTime(6) || done.End != chunkTime(8) {
				t.Errorf("times = %v, %v, %v; want chunks 5, 6, 8", done.Start, done.RespStart, done.End)
			}
		},
	}, {
		name: "POST with a body in DATA frames",
		build: func(c *conv) {
			c.client.headers(1, false, ":method", "POST", ":scheme", "http", ":authority", "api.test",
				":path", "/items?x=1", "content-type", "application/json; charset=utf-8")
			c.client.data(1, false, []byte(`{"a":`))
			c.client.data(1, false, []byte(`1`))
			c.client.data(1, true, []byte(`}`))
			c.server.headers(1, true, ":status", "201", "location", "/items/1")
		},
		want: []string{
			"1 request POST http://api.test/items?x=1",
			"1 response 201",
			"1 done 201 req=7/7 resp=0/0",
		},
		check: func(t *testing.T, evs []event.Event) {
			done := httpEvent(t, evs, 1, event.PhaseDone)
			if string(done.ReqBody.Data) != `{"a":1}` || done.ReqBody.ContentType != "application/json" {
				t.Errorf("ReqBody = %+v; want {\"a\":1} of application/json", done.ReqBody)
			}
			if done.Proto != "h2c" {
				t.Errorf("Proto = %q; want h2c", done.Proto)
			}
		},
	}, {
		name: "trailers both ways",
		build: func(c *conv) {
			c.client.headers(1, false, ":method", "PUT", ":scheme", "https", ":authority", "example.com",
				":path", "/f", "te", "trailers")
			c.client.data(1, false, []byte("abc"))
			c.client.headers(1, true, "x-checksum", "900150983cd24fb0")
			c.server.headers(1, false, ":status", "200")
			c.server.data(1, false, []byte("ok"))
			c.server.headers(1, true, "x-served-by", "t1", "x-took", "3ms")
		},
		want: []string{
			"1 request PUT https://example.com/f",
			"1 response 200",
			"1 done 200 req=3/3 resp=2/2 req-trailer=[{x-checksum 900150983cd24fb0}] resp-trailer=[{x-served-by t1} {x-took 3ms}]",
		},
	}, {
		name: "RST_STREAM",
		build: func(c *conv) {
			c.get(1, "/slow")
			c.server.headers(1, false, ":status", "200")
			c.server.data(1, false, []byte("partial"))
			c.client.rst(1, http2.ErrCodeCancel)
			// A server that answered before the request ended resets it
			// with NO_ERROR: the exchange is complete.
			c.client.headers(3, false, ":method", "POST", ":scheme", "https", ":authority", "example.com", ":path", "/up")
			c.client.data(3, false, []byte("part"))
			c.server.headers(3, true, ":status", "413")
			c.server.rst(3, http2.ErrCodeNo)
			// Sent before the client saw the reset: still the request's.
			c.client.data(3, true, []byte("late"))
		},
		want: []string{
			"1 request GET https://example.com/slow",
			"1 response 200",
			`1 done 200 req=0/0 resp=7/7 err="stream reset: CANCEL"`,
			"3 request POST https://example.com/up",
			"3 response 413",
			"3 done 413 req=8/8 resp=0/0",
		},
	}, {
		name: "GOAWAY",
		build: func(c *conv) {
			c.get(1, "/a")
			c.get(3, "/b")
			c.get(5, "/c")
			c.server.goAway(3, http2.ErrCodeNo)
			c.server.headers(3, true, ":status", "204")
			c.server.headers(1, true, ":status", "204")
		},
		want: []string{
			"1 request GET https://example.com/a",
			"3 request GET https://example.com/b",
			"5 request GET https://example.com/c",
			`5 done 0 req=0/0 resp=0/0 err="goaway: NO_ERROR"`,
			"3 response 204",
			"3 done 204 req=0/0 resp=0/0",
			"1 response 204",
			"1 done 204 req=0/0 resp=0/0",
		},
	}, {
		name: "PUSH_PROMISE",
		build: func(c *conv) {
			c.get(1, "/")
			c.server.push(1, 2, ":method", "GET", ":scheme", "https", ":authority", "example.com", ":path", "/style.css")
			c.server.push(1, 4, ":method", "GET", ":scheme", "https", ":authority", "example.com", ":path", "/gone.js")
			c.server.headers(1, false, ":status", "200", "content-type", "text/html")
			c.server.data(1, true, []byte("<html>"))
			c.server.headers(2, false, ":status", "200", "content-type", "text/css")
			c.server.data(2, true, []byte("p{}"))
			c.client.rst(4, http2.ErrCodeRefusedStream)
		},
		want: []string{
			"1 request GET https://example.com/",
			"2 request GET https://example.com/style.css",
			"4 request GET https://example.com/gone.js",
			"1 response 200",
			"1 done 200 req=0/0 resp=6/6",
			"2 response 200",
			"2 done 200 req=0/0 resp=3/3",
			`4 done 0 req=0/0 resp=0/0 err="stream reset: REFUSED_STREAM"`,
		},
	}, {
		name: "padding",
		build: func(c *conv) {
			c.client.headersSplit(1, false, 17, 1, ":method", "POST", ":scheme", "https", ":authority", "example.com", ":path", "/p")
			c.client.dataPadded(1, true, []byte("0123456789"), 200)
			c.server.headersSplit(1, false, 255, 1, ":status", "200")
			c.server.dataPadded(1, false, []byte("abc"), 0)
			c.server.dataPadded(1, true, nil, 9)
		},
		want: []string{
			"1 request POST https://example.com/p",
			"1 response 200",
			"1 done 200 req=10/10 resp=3/3",
		},
	}, {
		name: "chatter and close with an open stream",
		build: func(c *conv) {
			c.open()
			c.client.chatter()
			c.get(1, "/stream")
			c.server.chatter()
			c.server.headers(1, false, ":status", "200")
			c.server.data(1, false, []byte("partial"))
		},
		want: []string{
			"1 request GET https://example.com/stream",
			"1 response 200",
			`1 done 200 req=0/0 resp=7/7 err="connection closed"`,
		},
	}, {
		name: "interim responses",
		build: func(c *conv) {
			c.client.headers(1, false, ":method", "POST", ":scheme", "https", ":authority", "example.com",
				":path", "/e", "expect", "100-continue")
			c.server.headers(1, false, ":status", "100")
			c.client.data(1, true, []byte("body"))
			c.server.headers(1, false, ":status", "103", "link", "</s.css>; rel=preload")
			c.server.headers(1, true, ":status", "200")
		},
		want: []string{
			"1 request POST https://example.com/e",
			"1 response 200",
			"1 done 200 req=4/4 resp=0/0 interim=[100 103]",
		},
	}, {
		name:     "prior knowledge given to NewUpgraded",
		upgraded: true,
		build: func(c *conv) {
			c.get(1, "/pk")
			c.server.headers(1, true, ":status", "204")
		},
		want: []string{
			"1 request GET https://example.com/pk",
			"1 response 204",
			"1 done 204 req=0/0 resp=0/0",
		},
	}, {
		name:     "h2c after Upgrade",
		upgraded: true,
		build: func(c *conv) {
			c.open()
			c.server.headers(1, false, ":status", "200", "content-type", "text/plain")
			c.server.data(1, true, []byte("upgraded"))
			c.client.headers(3, true, ":method", "GET", ":scheme", "http", ":authority", "lab.test", ":path", "/next")
			c.server.headers(3, true, ":status", "404")
		},
		want: []string{
			"1 response 200",
			"1 done 200 req=0/0 resp=8/8 interim=[101] upgrade=h2c",
			"3 request GET http://lab.test/next",
			"3 response 404",
			"3 done 404 req=0/0 resp=0/0",
		},
	}}
}

func TestExchanges(t *testing.T) { runTests(t, exchangeTests()) }
