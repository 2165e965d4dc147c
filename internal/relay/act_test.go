package relay

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/internal/pick"
	"github.com/htapod/htapod/internal/tlsmitm"
	"github.com/htapod/htapod/respond"
	"github.com/htapod/htapod/route"
)

// mockPath answers /mock itself and forwards the rest.
func mockPath(r *http.Request) respond.Decision {
	if r.URL.Path == "/mock" {
		return respond.Decision{Response: &respond.Response{Status: 200, Body: []byte("mocked " + r.URL.String())}, Action: "mock"}
	}
	return respond.Decision{}
}

// actForwarder is a Forwarder that relays every flow to addr, dissects
// it, and acts on it with act.
func actForwarder(t *testing.T, addr net.Addr, act *Act) (*Forwarder, *recorder) {
	t.Helper()
	return newTestForwarder(t, Config{
		Router:  mapTo(addr),
		Dissect: pick.Stream(dissect.Options{}),
		HTTP:    func(route.Flow) *Act { return act },
	})
}

// httpEvents returns the done HTTP events recorded so far.
func (r *recorder) httpDone() []*event.HTTP {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*event.HTTP
	for _, e := range r.events {
		if h, ok := e.(*event.HTTP); ok && h.Phase == event.PhaseDone {
			out = append(out, h)
		}
	}
	return out
}

func TestActOnPlainHTTP(t *testing.T) {
	var hits atomic.Int32
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "origin "+r.URL.Path)
	}))
	t.Cleanup(origin.Close)
	addr := origin.Listener.Addr()
	f, events := actForwarder(t, addr, &Act{Decide: mockPath})
	in := newTestInbound(t)
	done := start(func() { f.HandleTCP(testSrc, testDst, in) })
	br := bufio.NewReader(in.client)
	for _, tt := range []struct{ path, want string }{
		{"/a", "origin /a"}, {"/mock", "mocked http://www.lab.test/mock"}, {"/b", "origin /b"},
	} {
		io.WriteString(in.client, "GET "+tt.path+" HTTP/1.1\r\nHost: www.lab.test\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("GET %s: %v", tt.path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != tt.want {
			t.Errorf("GET %s = %q; want %q", tt.path, b, tt.want)
		}
	}
	in.client.CloseWrite()
	io.Copy(io.Discard, br)
	await(t, done, "HandleTCP")
	if hits.Load() != 2 {
		t.Errorf("origin saw %d requests; want 2", hits.Load())
	}
	fl := events.flow(t)
	if fl.End != event.Closed || fl.Up == 0 || fl.Down == 0 {
		t.Errorf("flow = %+v; want closed with bytes both ways", fl)
	}
	var actions []string
	for _, h := range events.httpDone() {
		actions = append(actions, h.Path+"="+h.Action)
	}
	if got := strings.Join(actions, " "); got != "/a= /mock=mock /b=" {
		t.Errorf("exchanges reported %q; want %q", got, "/a= /mock=mock /b=")
	}
}

func TestActOffline(t *testing.T) {
	auth, err := tlsmitm.NewAuthority()
	if err != nil {
		t.Fatal(err)
	}
	var dials atomic.Int32
	f, events := newTestForwarder(t, Config{
		Dial: func(context.Context, string, string) (net.Conn, error) {
			dials.Add(1)
			return nil, errors.New("a replay must not dial")
		},
		TLS:     tlsmitm.New(tlsmitm.Config{Authority: auth}),
		Dissect: pick.Stream(dissect.Options{}),
		HTTP:    func(route.Flow) *Act { return &Act{Decide: mockPath, Offline: true} },
	})
	roots := x509.NewCertPool()
	roots.AddCert(auth.Certificate())
	tests := []struct {
		name  string
		tls   bool
		alpn  []string
		proto string
	}{
		{"plain", false, nil, "HTTP/1.1"},
		{"tls h1", true, []string{"http/1.1"}, "HTTP/1.1"},
		{"tls h2", true, []string{"h2", "http/1.1"}, "HTTP/2.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newTestInbound(t)
			done := start(func() { f.HandleTCP(testSrc, netip.MustParseAddrPort("203.0.113.10:443"), in) })
			var c net.Conn = in.client
			if tt.tls {
				c = tls.Client(in.client, &tls.Config{ServerName: "www.lab.test", RootCAs: roots, NextProtos: tt.alpn})
			}
			tr := &http.Transport{DialTLSContext: func(context.Context, string, string) (net.Conn, error) { return c, nil },
				DialContext: func(context.Context, string, string) (net.Conn, error) { return c, nil }, ForceAttemptHTTP2: true,
				TLSClientConfig: &tls.Config{ServerName: "www.lab.test", RootCAs: roots, NextProtos: tt.alpn}}
			scheme := "http"
			if tt.tls {
				scheme = "https"
			}
			resp, err := (&http.Client{Transport: tr}).Get(scheme + "://www.lab.test/mock")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.Proto != tt.proto || string(b) != "mocked "+scheme+"://www.lab.test/mock" {
				t.Errorf("GET = %s %q; want %s, the mock", resp.Proto, b, tt.proto)
			}
			tr.CloseIdleConnections()
			c.Close()
			await(t, done, "HandleTCP")
		})
	}
	if dials.Load() != 0 {
		t.Errorf("%d dials; want none", dials.Load())
	}
	n := 0
	for _, h := range events.httpDone() {
		if h.Action == "mock" {
			n++
		}
	}
	if n != len(tests) {
		t.Errorf("%d exchanges reported as mock; want %d", n, len(tests))
	}
}

// TestActNotHTTP: a flow that is not HTTP is relayed byte for byte even
// when its requests would be acted on.
func TestActNotHTTP(t *testing.T) {
	echo := newTCPEcho(t)
	f, events := newTestForwarder(t, Config{
		Router: mapTo(echo),
		HTTP:   func(route.Flow) *Act { return &Act{Decide: mockPath} },
	})
	in := newTestInbound(t)
	done := start(func() { f.HandleTCP(testSrc, testDst, in) })
	msg := "HELO not http\r\n"
	if err := <-sendAll(in.client, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(in.client)
	if err != nil || string(got) != msg {
		t.Fatalf("echo = %q, %v; want %q", got, err, msg)
	}
	await(t, done, "HandleTCP")
	if fl := events.flow(t); fl.End != event.Closed || fl.Up != int64(len(msg)) {
		t.Errorf("flow = %+v; want closed, %d bytes up", fl, len(msg))
	}
}

// TestActOnH2C acts on HTTP/2 with prior knowledge (h2c, as plaintext
// gRPC speaks it) whichever side speaks first: a server that waits for
// the client's preface (x/net's h2c handler) and one that sends its
// SETTINGS at once (x/net's Server on the bare connection, as gRPC's
// server does). Either way the command's requests are mocked or
// forwarded per request.
func TestActOnH2C(t *testing.T) {
	for _, tt := range []struct {
		name        string
		serverFirst bool
	}{{"client first", false}, {"server first", true}} {
		t.Run(tt.name, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "origin "+r.Proto+" "+r.URL.Path)
			})
			var addr net.Addr
			if tt.serverFirst {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { ln.Close() })
				go func() {
					for {
						c, err := ln.Accept()
						if err != nil {
							return
						}
						go (&http2.Server{}).ServeConn(c, &http2.ServeConnOpts{Handler: h})
					}
				}()
				addr = ln.Addr()
			} else {
				origin := httptest.NewServer(h2c.NewHandler(h, &http2.Server{}))
				t.Cleanup(origin.Close)
				addr = origin.Listener.Addr()
			}
			f, events := actForwarder(t, addr, &Act{Decide: mockPath})
			in := newTestInbound(t)
			done := start(func() { f.HandleTCP(testSrc, testDst, in) })
			if tt.serverFirst {
				// Let the server's SETTINGS reach htapod before the preface
				// (were it later, the test would take the other order).
				time.Sleep(100 * time.Millisecond)
			}
			rt := &http2.Transport{AllowHTTP: true, DialTLSContext: func(context.Context, string, string, *tls.Config) (net.Conn, error) {
				return in.client, nil
			}}
			c := &http.Client{Transport: rt, Timeout: testTimeout}
			for _, p := range []struct{ path, want string }{
				{"/a", "origin HTTP/2.0 /a"}, {"/mock", "mocked http://www.lab.test/mock"},
			} {
				resp, err := c.Get("http://www.lab.test" + p.path)
				if err != nil {
					t.Fatalf("GET %s: %v", p.path, err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != p.want {
					t.Errorf("GET %s = %q; want %q", p.path, b, p.want)
				}
			}
			rt.CloseIdleConnections()
			in.client.Close()
			await(t, done, "HandleTCP")
			var actions []string
			for _, h := range events.httpDone() {
				actions = append(actions, h.Proto+" "+h.Path+"="+h.Action)
			}
			if got, want := strings.Join(actions, ", "), "h2c /a=, h2c /mock=mock"; got != want {
				t.Errorf("exchanges reported %q; want %q", got, want)
			}
		})
	}
}

// TestActHostOnly relays a flow whose requests are only judged by Host
// (Act.HostOnly) through the gate: allowed requests reach the origin and
// their responses come back; a denied one gets the 403 at once, whether it
// is the first request or follows others, the connection then closes, and
// the exchanges are reported with their actions.
func TestActHostOnly(t *testing.T) {
	var hits atomic.Int32
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "origin "+r.URL.Path)
	}))
	t.Cleanup(origin.Close)
	deny := func(r *http.Request) respond.Decision {
		if r.Host == "evil.test" {
			return respond.Decision{Action: "policy deny", Response: &respond.Response{Status: 403, Body: []byte("denied\n")}}
		}
		return respond.Decision{}
	}
	for _, tt := range []struct {
		name    string
		allowed int
	}{{"first request", 0}, {"after two", 2}} {
		t.Run(tt.name, func(t *testing.T) {
			hits.Store(0)
			f, events := actForwarder(t, origin.Listener.Addr(), &Act{Decide: deny, HostOnly: true})
			in := newTestInbound(t)
			done := start(func() { f.HandleTCP(testSrc, testDst, in) })
			br := bufio.NewReader(in.client)
			var want []string
			for i := range tt.allowed {
				path := fmt.Sprintf("/ok%d", i)
				io.WriteString(in.client, "GET "+path+" HTTP/1.1\r\nHost: www.lab.test\r\n\r\n")
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("GET %s: %v", path, err)
				}
				b, _ := io.ReadAll(resp.Body)
				if string(b) != "origin "+path {
					t.Errorf("GET %s = %q", path, b)
				}
				want = append(want, path+"=")
			}
			start := time.Now()
			io.WriteString(in.client, "GET /bad HTTP/1.1\r\nHost: evil.test\r\n\r\n")
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("denied GET: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 403 || string(b) != "denied\n" || !resp.Close {
				t.Errorf("denied GET = %d %q close=%v; want 403, the body, close", resp.StatusCode, b, resp.Close)
			}
			if took := time.Since(start); took > answerWait/2 {
				t.Errorf("the answer took %v", took)
			}
			if rest, _ := io.ReadAll(br); len(rest) != 0 {
				t.Errorf("after the answer: %q; want the end", rest)
			}
			in.client.Close()
			await(t, done, "HandleTCP")
			if int(hits.Load()) != tt.allowed {
				t.Errorf("origin saw %d requests; want %d", hits.Load(), tt.allowed)
			}
			want = append(want, "/bad=policy deny")
			var got []string
			for _, h := range events.httpDone() {
				got = append(got, h.Path+"="+h.Action)
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("exchanges reported %q; want %q", got, want)
			}
		})
	}
}

// TestActHostOnlyRefusedUpload: a denied request whose body is still being
// sent gets the 403, not a reset: htapod reads and drops the body it
// refused before it closes the connection.
func TestActHostOnlyRefusedUpload(t *testing.T) {
	var hits atomic.Int32
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(origin.Close)
	deny := func(r *http.Request) respond.Decision {
		return respond.Decision{Action: "policy deny", Response: &respond.Response{Status: 403, Body: []byte("denied\n")}}
	}
	f, _ := actForwarder(t, origin.Listener.Addr(), &Act{Decide: deny, HostOnly: true})
	in := newTestInbound(t)
	done := start(func() { f.HandleTCP(testSrc, testDst, in) })
	const size = 4 << 20
	sent := make(chan error, 1)
	go func() {
		_, err := io.WriteString(in.client, fmt.Sprintf("POST /up HTTP/1.1\r\nHost: evil.test\r\nContent-Length: %d\r\n\r\n", size))
		if err == nil {
			_, err = in.client.Write(make([]byte, size))
		}
		sent <- err
	}()
	if err := <-sent; err != nil {
		t.Errorf("sending the body: %v; want it taken (and dropped)", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(in.client), nil)
	if err != nil || resp.StatusCode != 403 {
		t.Fatalf("answer %v, %v; want the 403", resp, err)
	}
	in.client.Close()
	await(t, done, "HandleTCP")
	if hits.Load() != 0 {
		t.Errorf("origin saw %d requests; want none", hits.Load())
	}
}
