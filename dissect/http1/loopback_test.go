package http1_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/dissect/http1"
	"github.com/htapod/htapod/event"
)

// chunk is what a teeProxy forwarded once: bytes one way, or that way's end.
type chunk struct {
	dir event.Direction
	b   []byte
	t   time.Time
	end bool
}

// capture is the record of one proxied connection, in forwarding order.
type capture struct {
	mu     sync.Mutex
	chunks []chunk
}

func (c *capture) add(ch chunk) {
	c.mu.Lock()
	c.chunks = append(c.chunks, ch)
	c.mu.Unlock()
}

// teeProxy relays TCP connections on loopback to target and records the
// bytes both ways, as htapod's relay hands them to dissectors.
type teeProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []*capture
}

// newTeeProxy starts a proxy to target; it stops with the test.
func newTeeProxy(tb testing.TB, target string) *teeProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &teeProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.serve()
	tb.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *teeProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.relay(c.(*net.TCPConn))
	}
}

// relay forwards one connection both ways until both ends closed.
func (p *teeProxy) relay(client *net.TCPConn) {
	defer p.wg.Done()
	defer client.Close()
	conn, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	server := conn.(*net.TCPConn)
	defer server.Close()
	c := new(capture)
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go tee(&wg, c, event.Up, server, client)
	go tee(&wg, c, event.Down, client, server)
	wg.Wait()
}

// tee copies src to dst, recording each read before writing it on.
func tee(wg *sync.WaitGroup, c *capture, dir event.Direction, dst, src *net.TCPConn) {
	defer wg.Done()
	buf := make([]byte, 4096)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			c.add(chunk{dir: dir, b: bytes.Clone(buf[:n]), t: time.Now()})
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			c.add(chunk{dir: dir, t: time.Now(), end: true})
			dst.CloseWrite()
			return
		}
	}
}

// captures waits for every proxied connection to end and returns them.
func (p *teeProxy) captures(tb testing.TB) []*capture {
	p.ln.Close()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		tb.Fatal("proxied connections did not end")
	}
	return p.conns
}

// TestLoopback runs a real net/http client and server through a tee'ing
// proxy on loopback and checks the dissector saw what the client got.
func TestLoopback(t *testing.T) {
	big := strings.Repeat("0123456789", 20000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/small":
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "hello")
		case "/gzip":
			// Flushing before the end makes the response chunked.
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Content-Type", "application/json")
			zw := gzip.NewWriter(w)
			for i := range 50 {
				io.WriteString(zw, strings.Repeat(`{"n":`+string(rune('0'+i%10))+`}`, 100))
				zw.Flush()
				w.(http.Flusher).Flush()
			}
			zw.Close()
		case "/echo":
			io.Copy(w, r.Body)
		case "/big":
			io.WriteString(w, big)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	proxy := newTeeProxy(t, srv.Listener.Addr().String())
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	client := &http.Client{Transport: tr}
	base := "http://" + proxy.ln.Addr().String()

	type got struct {
		method string
		status int
		body   []byte
	}
	var want []got
	reqs := []struct{ method, path, body string }{
		{"GET", "/small", ""}, {"GET", "/gzip", ""}, {"POST", "/echo", "ping pong"},
		{"GET", "/big", ""}, {"GET", "/missing", ""}, {"HEAD", "/small", ""}, {"GET", "/gzip", ""},
	}
	for _, rq := range reqs {
		req, err := http.NewRequest(rq.method, base+rq.path, strings.NewReader(rq.body))
		must(t, err)
		resp, err := client.Do(req)
		must(t, err)
		b, err := io.ReadAll(resp.Body)
		must(t, err)
		resp.Body.Close()
		want = append(want, got{rq.method, resp.StatusCode, b})
	}
	tr.CloseIdleConnections()

	caps := proxy.captures(t)
	if len(caps) != 1 {
		t.Fatalf("%d connections; want 1 (keep-alive)", len(caps))
	}
	var dones []*event.HTTP
	s := http1.New(testMeta, dissect.Options{}, func(e event.Event) {
		switch e := e.(type) {
		case *event.HTTP:
			if e.Phase == event.PhaseDone {
				dones = append(dones, e)
			}
		default:
			t.Errorf("unexpected event %s %+v", e.Kind(), e)
		}
	})
	var last time.Time
	for _, ch := range caps[0].chunks {
		if last = ch.t; ch.end {
			s.End(ch.dir, ch.t)
			continue
		}
		if err := s.Data(ch.dir, ch.b, ch.t); err != nil {
			t.Fatalf("Data: %v", err)
		}
	}
	s.Close(last)

	if len(dones) != len(want) {
		t.Fatalf("%d exchanges done; want %d", len(dones), len(want))
	}
	for i, d := range dones {
		w := want[i]
		b := d.RespBody
		t.Logf("#%d %s %s: %d, body %d bytes on the wire, %d decoded (%s)", d.Seq, d.Method, d.Path, d.Status, b.Size, b.DecodedSize, b.Encoding)
		switch {
		case d.Err != "" || d.Seq != uint32(i+1) || d.Method != w.method || d.Status != w.status:
			t.Errorf("exchange %d = #%d %s %d err %q; want #%d %s %d", i, d.Seq, d.Method, d.Status, d.Err, i+1, w.method, w.status)
		case b.DecodedSize != int64(len(w.body)):
			t.Errorf("exchange %d %s: decoded size %d; want %d", i, d.Path, b.DecodedSize, len(w.body))
		case !bytes.HasPrefix(w.body, b.Data) || b.Truncated != (len(b.Data) < len(w.body)):
			t.Errorf("exchange %d %s: data %d bytes, truncated %v; want a prefix of %d bytes", i, d.Path, len(b.Data), b.Truncated, len(w.body))
		case d.Path == "/gzip" && (b.Encoding != "gzip" || b.Size >= b.DecodedSize || !hasHeader(d.RespHeader, "Transfer-Encoding", "chunked")):
			t.Errorf("exchange %d: gzip body %+v, header %v; want chunked gzip", i, b, d.RespHeader)
		case d.End.Before(d.Start) || d.RespStart.Before(d.Start):
			t.Errorf("exchange %d: times start %v resp %v end %v out of order", i, d.Start, d.RespStart, d.End)
		}
	}
}

func hasHeader(h []event.Header, name, value string) bool {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) && strings.EqualFold(f.Value, value) {
			return true
		}
	}
	return false
}
