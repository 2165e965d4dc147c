package httpact

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/respond"
)

// oneConn is a listener that hands out one connection.
type oneConn struct {
	c    chan net.Conn
	done chan struct{}
}

func newOneConn(c net.Conn) *oneConn {
	l := &oneConn{c: make(chan net.Conn, 1), done: make(chan struct{})}
	l.c <- c
	return l
}

func (l *oneConn) Accept() (net.Conn, error) {
	select {
	case c := <-l.c:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}
func (l *oneConn) Close() error {
	select {
	case <-l.done:
	default:
		close(l.done)
	}
	return nil
}
func (l *oneConn) Addr() net.Addr { return &net.TCPAddr{} }

// origin is the real server: it counts requests and answers
// "origin <path>" (and a 4 KiB body for /big).
type origin struct{ hits atomic.Int32 }

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.hits.Add(1)
	if r.URL.Path == "/big" {
		w.Write([]byte(strings.Repeat("x", 4096)))
		return
	}
	b, _ := io.ReadAll(r.Body)
	io.WriteString(w, "origin "+r.URL.Path+" "+string(b))
}

// newTestFlow serves one flow between a client and an origin over pipes,
// with decide, and returns an HTTP client for it.
func newTestFlow(t *testing.T, h2 bool, upstream bool, decide respond.Decider) (*http.Client, *origin, *Marks) {
	t.Helper()
	o := &origin{}
	var up net.Conn
	if upstream {
		a, b := net.Pipe()
		up = a
		if h2 {
			go (&http2.Server{}).ServeConn(b, &http2.ServeConnOpts{Handler: o})
		} else {
			l := newOneConn(b)
			srv := &http.Server{Handler: o}
			go srv.Serve(l)
			t.Cleanup(func() { srv.Close() })
		}
		t.Cleanup(func() { a.Close(); b.Close() })
	}
	cmd, leg := net.Pipe()
	marks := NewMarks()
	alpn := ""
	if h2 {
		alpn = "h2"
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Serve(ctx, leg, Config{Decide: decide, ALPN: alpn, Host: "lab.test", Upstream: up, Marks: marks,
			Abort: func() { leg.Close() }})
		leg.Close()
	}()
	t.Cleanup(func() { cancel(); cmd.Close(); <-done })
	used := false
	dial := func() (net.Conn, error) {
		if used {
			return nil, errors.New("one connection only")
		}
		used = true
		return cmd, nil
	}
	var rt http.RoundTripper
	if h2 {
		rt = &http2.Transport{AllowHTTP: true, DialTLSContext: func(context.Context, string, string, *tls.Config) (net.Conn, error) { return dial() }}
	} else {
		rt = &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) { return dial() }}
	}
	return &http.Client{Transport: rt, Timeout: 5 * time.Second}, o, marks
}

func fixed(d respond.Decision) respond.Decider {
	return func(*http.Request) respond.Decision { return d }
}

func TestServe(t *testing.T) {
	mock := &respond.Response{Status: 201, Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte("mocked")}
	tests := []struct {
		name     string
		upstream bool
		decision respond.Decision
		status   int
		body     string // prefix of the body the client gets
		hits     int32  // requests the origin saw
	}{
		{"forward", true, respond.Decision{}, 200, "origin /a/b ", 1},
		{"mock", true, respond.Decision{Response: mock, Action: "mock"}, 201, "mocked", 0},
		{"fault status", true, respond.Decision{Fault: &respond.Fault{Status: 503}}, 503, "htapod: fault status:503", 0},
		{"no upstream", false, respond.Decision{}, 502, "htapod: no upstream for GET http", 0},
		{"gzip mock", false, respond.Decision{Response: &respond.Response{Status: 200,
			Header: http.Header{"Content-Encoding": {"gzip"}}, Body: []byte("zipped")}}, 200, "zipped", 0},
	}
	for _, tt := range tests {
		for _, h2 := range []bool{false, true} {
			name := tt.name + "/h1"
			if h2 {
				name = tt.name + "/h2"
			}
			t.Run(name, func(t *testing.T) {
				c, o, _ := newTestFlow(t, h2, tt.upstream, fixed(tt.decision))
				resp, err := c.Get("http://lab.test/a/b?q=1")
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tt.status || !strings.HasPrefix(string(b), tt.body) {
					t.Errorf("GET = %d %q; want %d %q…", resp.StatusCode, b, tt.status, tt.body)
				}
				if got := o.hits.Load(); got != tt.hits {
					t.Errorf("origin saw %d requests; want %d", got, tt.hits)
				}
			})
		}
	}
}

func TestServeKeepAliveAndBody(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		c, o, _ := newTestFlow(t, h2, true, func(r *http.Request) respond.Decision {
			b, _ := io.ReadAll(r.Body) // the Decider may read the body; it is still forwarded
			if string(b) == "mock me" {
				return respond.Decision{Response: &respond.Response{Status: 200, Body: []byte("mocked body")}}
			}
			return respond.Decision{}
		})
		for _, body := range []string{"first", "mock me", "third"} {
			resp, err := c.Post("http://lab.test/p", "text/plain", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := "origin /p " + body
			if body == "mock me" {
				want = "mocked body"
			}
			if string(b) != want {
				t.Errorf("h2=%v POST %q = %q; want %q", h2, body, b, want)
			}
		}
		if o.hits.Load() != 2 {
			t.Errorf("h2=%v origin saw %d requests; want 2", h2, o.hits.Load())
		}
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name    string
		fault   respond.Fault
		timeout time.Duration // the client's
		minTime time.Duration
		wantErr bool
	}{
		{"delay", respond.Fault{Delay: 300 * time.Millisecond}, 5 * time.Second, 300 * time.Millisecond, false},
		{"timeout", respond.Fault{Timeout: true}, 300 * time.Millisecond, 300 * time.Millisecond, true},
		{"reset", respond.Fault{Reset: true}, 5 * time.Second, 0, true},
		{"throttle", respond.Fault{Throttle: 8 << 10}, 5 * time.Second, 400 * time.Millisecond, false},
	}
	for _, tt := range tests {
		for _, h2 := range []bool{false, true} {
			t.Run(tt.name+map[bool]string{false: "/h1", true: "/h2"}[h2], func(t *testing.T) {
				c, _, _ := newTestFlow(t, h2, true, fixed(respond.Decision{Fault: &tt.fault}))
				c.Timeout = tt.timeout
				start := time.Now()
				resp, err := c.Get("http://lab.test/big")
				var b []byte
				if err == nil {
					b, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				took := time.Since(start)
				if (err != nil) != tt.wantErr {
					t.Fatalf("GET: err %v; want error %v", err, tt.wantErr)
				}
				if !tt.wantErr && len(b) != 4096 {
					t.Errorf("body %d bytes; want 4096", len(b))
				}
				if took < tt.minTime {
					t.Errorf("took %v; want at least %v", took, tt.minTime)
				}
			})
		}
	}
}

func TestMarks(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		c, _, marks := newTestFlow(t, h2, true, func(r *http.Request) respond.Decision {
			if r.URL.Path == "/m" {
				return respond.Decision{Response: &respond.Response{Status: 200}, Action: "mock"}
			}
			return respond.Decision{}
		})
		for _, p := range []string{"/f", "/m"} {
			resp, err := c.Get("http://lab.test" + p)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		proto := "HTTP/1.1"
		if h2 {
			proto = "h2"
		}
		var got []string
		wrap := marks.Wrap(func(e event.Event) { got = append(got, e.(*event.HTTP).Action) })
		wrap(&event.HTTP{Proto: proto, Seq: 1, Method: "GET", Path: "/f", Phase: event.PhaseDone})
		wrap(&event.HTTP{Proto: proto, Seq: 2, Method: "GET", Path: "/m", Phase: event.PhaseDone})
		if got[0] != "" || got[1] != "mock" {
			t.Errorf("h2=%v actions = %q; want [\"\" \"mock\"]", h2, got)
		}
	}
}

func TestServeH1Upgrade(t *testing.T) {
	up, origin := net.Pipe()
	go func() {
		// An origin that switches to an echo after a 101.
		br := bufio.NewReader(origin)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		io.WriteString(origin, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		io.Copy(origin, br)
		origin.Close()
	}()
	cmd, leg := net.Pipe()
	go func() {
		Serve(context.Background(), leg, Config{Decide: fixed(respond.Decision{}), Upstream: up})
		leg.Close()
		up.Close()
	}()
	t.Cleanup(func() { cmd.Close() })
	io.WriteString(cmd, "GET /ws HTTP/1.1\r\nHost: lab.test\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(cmd)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v; want 101", resp, err)
	}
	io.WriteString(cmd, "ping")
	b := make([]byte, 4)
	if _, err := io.ReadFull(br, b); err != nil || string(b) != "ping" {
		t.Errorf("after the upgrade read %q, %v; want the echo", b, err)
	}
}

func TestServeH2Trailers(t *testing.T) {
	up, origin := net.Pipe()
	go (&http2.Server{}).ServeConn(origin, &http2.ServeConnOpts{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "Grpc-Status")
		io.WriteString(w, "body")
		w.Header().Set("Grpc-Status", "0")
	})})
	t.Cleanup(func() { up.Close(); origin.Close() })
	cmd, leg := net.Pipe()
	go Serve(context.Background(), leg, Config{Decide: fixed(respond.Decision{}), ALPN: "h2", Upstream: up})
	t.Cleanup(func() { cmd.Close(); leg.Close() })
	rt := &http2.Transport{AllowHTTP: true, DialTLSContext: func(context.Context, string, string, *tls.Config) (net.Conn, error) { return cmd, nil }}
	resp, err := (&http.Client{Transport: rt, Timeout: 5 * time.Second}).Get("http://lab.test/call")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "body" || resp.Trailer.Get("Grpc-Status") != "0" {
		t.Errorf("got %q, trailer %v; want body and Grpc-Status 0", b, resp.Trailer)
	}
}

func TestServeExpectContinue(t *testing.T) {
	c, o, _ := newTestFlow(t, false, true, fixed(respond.Decision{}))
	c.Transport.(*http.Transport).ExpectContinueTimeout = 5 * time.Second
	req, _ := http.NewRequest("POST", "http://lab.test/p", strings.NewReader("payload"))
	req.Header.Set("Expect", "100-continue")
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "origin /p payload" || time.Since(start) > 2*time.Second || o.hits.Load() != 1 {
		t.Errorf("POST with Expect = %q after %v; want the origin's answer at once", b, time.Since(start))
	}
}

// TestServeH1KeepsBytes forwards requests and responses that net/http
// would respell (header case and order): each side gets the other's head
// as it was sent. Bodies are framed again: chunk sizes follow the reads,
// and trailer names come out in canonical case.
func TestServeH1KeepsBytes(t *testing.T) {
	const (
		request = "POST /p?q=1 HTTP/1.1\r\nhost: lab.test\r\nx-zeta: 1\r\nX-ALPHA: 2\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n"
		response = "HTTP/1.1 200 Fine\r\nx-zeta: 1\r\nContent-TYPE: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"3\r\nabc\r\n0\r\nX-Sum: 9\r\n\r\n"
	)
	up, origin := net.Pipe()
	got := make(chan string, 1)
	go func() {
		b := make([]byte, len(request))
		io.ReadFull(origin, b)
		got <- string(b)
		io.WriteString(origin, response)
	}()
	cmd, leg := net.Pipe()
	go func() {
		Serve(context.Background(), leg, Config{Decide: fixed(respond.Decision{}), Upstream: up})
		leg.Close()
	}()
	t.Cleanup(func() { cmd.Close(); up.Close(); origin.Close() })
	go io.WriteString(cmd, request)
	if g := <-got; g != request {
		t.Errorf("origin got\n%q\nwant\n%q", g, request)
	}
	b := make([]byte, len(response))
	if _, err := io.ReadFull(cmd, b); err != nil || string(b) != response {
		t.Errorf("client got\n%q, %v\nwant\n%q", b, err, response)
	}
}

// TestServeH2Stream forwards a request whose client waits for the
// response to start before it ends its body (a gRPC bidi stream): the
// body is not held for the Decider.
func TestServeH2Stream(t *testing.T) {
	up, origin := net.Pipe()
	go (&http2.Server{}).ServeConn(origin, &http2.ServeConnOpts{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 4)
		io.ReadFull(r.Body, b)
		w.Write(b)
		w.(http.Flusher).Flush()
		io.Copy(io.Discard, r.Body)
	})})
	t.Cleanup(func() { up.Close(); origin.Close() })
	cmd, leg := net.Pipe()
	go Serve(context.Background(), leg, Config{Decide: fixed(respond.Decision{}), ALPN: "h2", Upstream: up})
	t.Cleanup(func() { cmd.Close(); leg.Close() })
	rt := &http2.Transport{AllowHTTP: true, DialTLSContext: func(context.Context, string, string, *tls.Config) (net.Conn, error) { return cmd, nil }}
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", "http://lab.test/stream", pr)
	go pw.Write([]byte("ping"))
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Error(err)
			return
		}
		b := make([]byte, 4)
		if _, err := io.ReadFull(resp.Body, b); err != nil || string(b) != "ping" {
			t.Errorf("read %q, %v; want the echo before the request ended", b, err)
		}
		pw.Close()
		resp.Body.Close()
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream stalled: the request body was held")
	}
}

// TestServeH1Streams forwards a response whose server sends part of the
// body and waits for the client to have it before it sends the rest (a
// server-sent event stream, a long poll): the head and what came with it
// reach the client at once, though htapod gathers a head and the body in
// hand into one write. Chunked and with a Content-Length.
func TestServeH1Streams(t *testing.T) {
	for _, tt := range []struct{ name, head, part1, part2, want1, want2 string }{
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "6\r\nevent1\r\n", "6\r\nevent2\r\n0\r\n\r\n", "event1", "event2"},
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", "event1", "event2", "event1", "event2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			up, origin := net.Pipe()
			got1 := make(chan struct{})
			go func() {
				br := bufio.NewReader(origin)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				io.WriteString(origin, tt.head+tt.part1)
				select {
				case <-got1:
				case <-time.After(5 * time.Second):
				}
				io.WriteString(origin, tt.part2)
			}()
			cmd, leg := net.Pipe()
			go func() {
				Serve(context.Background(), leg, Config{Decide: fixed(respond.Decision{}), Upstream: up})
				leg.Close()
			}()
			t.Cleanup(func() { cmd.Close(); up.Close(); origin.Close() })
			go io.WriteString(cmd, "GET /events HTTP/1.1\r\nHost: lab.test\r\n\r\n")
			cmd.SetReadDeadline(time.Now().Add(2 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(cmd), nil)
			if err != nil {
				t.Fatalf("the head did not come before the rest of the body: %v", err)
			}
			b := make([]byte, 6)
			if _, err := io.ReadFull(resp.Body, b); err != nil || string(b) != tt.want1 {
				t.Fatalf("first part %q, %v; want %q before the server sends more", b, err, tt.want1)
			}
			close(got1)
			cmd.SetReadDeadline(time.Now().Add(5 * time.Second))
			rest, err := io.ReadAll(resp.Body)
			if err != nil || string(rest) != tt.want2 {
				t.Errorf("rest %q, %v; want %q", rest, err, tt.want2)
			}
		})
	}
}

// TestServeRefusesAmbiguous: the act layer's server answers 400 to a head
// whose body servers may frame in different ways, or too large a head,
// and forwards none of it.
func TestServeRefusesAmbiguous(t *testing.T) {
	for _, tt := range []struct{ name, head string }{
		{"HTTP/1.0 chunked", "POST / HTTP/1.0\r\nHost: lab.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"length and chunked", "POST / HTTP/1.1\r\nHost: lab.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"huge head", "GET / HTTP/1.1\r\nHost: lab.test\r\nX-Big: " + strings.Repeat("a", maxRawHead+10) + "\r\n\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			up, origin := net.Pipe()
			got := make(chan int64, 1)
			go func() {
				n, _ := io.Copy(io.Discard, origin)
				got <- n
			}()
			cmd, leg := net.Pipe()
			done := make(chan struct{})
			go func() {
				defer close(done)
				Serve(context.Background(), leg, Config{Decide: fixed(respond.Decision{}), Upstream: up})
				leg.Close()
			}()
			go io.WriteString(cmd, tt.head)
			cmd.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(cmd), nil)
			if err != nil || resp.StatusCode != 400 {
				t.Fatalf("answer %v, %v; want a 400", resp, err)
			}
			cmd.Close()
			<-done
			up.Close()
			if n := <-got; n != 0 {
				t.Errorf("the upstream got %d bytes; want none", n)
			}
		})
	}
}
