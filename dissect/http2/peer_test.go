package http2

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
)

// tapProxy is a TCP proxy on 127.0.0.1 that feeds a copy of each
// connection's bytes to an HTTP/2 dissector before forwarding them, as
// htapod's relay does.
type tapProxy struct {
	tb     testing.TB
	ln     net.Listener
	target string

	mu    sync.Mutex // serialises the dissectors and guards what follows
	evs   []event.Event
	errs  []error
	flows uint64
	wg    sync.WaitGroup
}

// newTapProxy starts a proxy to target; it stops at the test's end.
func newTapProxy(tb testing.TB, target string) *tapProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &tapProxy{tb: tb, ln: ln, target: target}
	tb.Cleanup(func() { ln.Close() })
	go p.acceptLoop()
	return p
}

func (p *tapProxy) acceptLoop() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.flows++
		id := p.flows
		p.mu.Unlock()
		p.wg.Add(1)
		go (&tapFlow{p: p, id: id, client: c}).run()
	}
}

// events waits for the flows to end and returns what they emitted.
func (p *tapProxy) events(timeout time.Duration) ([]event.Event, []error) {
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		p.tb.Fatalf("proxied connections still open after %v", timeout)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.evs, p.errs
}

// tapFlow is one proxied connection.
type tapFlow struct {
	p      *tapProxy
	id     uint64
	client net.Conn
	d      dissect.Stream
	failed bool
}

func (f *tapFlow) run() {
	defer f.p.wg.Done()
	defer f.client.Close()
	server, err := net.Dial("tcp", f.p.target)
	if err != nil {
		f.p.mu.Lock()
		f.p.errs = append(f.p.errs, err)
		f.p.mu.Unlock()
		return
	}
	defer server.Close()
	meta := dissect.Meta{FlowID: f.id, Proto: event.TCP, Start: time.Now()}
	f.d = New(meta, dissect.Options{}, func(ev event.Event) { f.p.evs = append(f.p.evs, ev) })
	var wg sync.WaitGroup
	wg.Add(2)
	go f.pump(&wg, event.Up, f.client, server)
	go f.pump(&wg, event.Down, server, f.client)
	wg.Wait()
	f.p.mu.Lock()
	f.d.Close(time.Now())
	f.p.mu.Unlock()
}

// pump copies one direction, feeding the dissector first.
func (f *tapFlow) pump(wg *sync.WaitGroup, dir event.Direction, src, dst net.Conn) {
	defer wg.Done()
	buf := make([]byte, 4096)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			f.p.mu.Lock()
			if !f.failed {
				if derr := f.d.Data(dir, buf[:n], time.Now()); derr != nil {
					f.failed = true
					f.p.errs = append(f.p.errs, derr)
				}
			}
			f.p.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			f.p.mu.Lock()
			f.d.End(dir, time.Now())
			f.p.mu.Unlock()
			if tc, ok := dst.(*net.TCPConn); ok {
				tc.CloseWrite()
			}
			return
		}
	}
}

// peerHandler answers /r/<i>?n=<size>[&gz=1] with size bytes (gzipped
// when asked) and status 200 + i%3, after reading the request body.
func peerHandler(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	i, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/r/"))
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	b := bytes.Repeat([]byte{'a' + byte(i%26)}, n)
	if r.URL.Query().Get("gz") == "1" {
		w.Header().Set("Content-Encoding", "gzip")
		b = gzipBytes(b)
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(200 + i%3)
	w.Write(b)
}

// TestRealPeer dissects 20 concurrent exchanges between net/http's h2c
// server and client over loopback, both speaking h2c with prior
// knowledge.
func TestRealPeer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// net/http serves h2c with prior knowledge (x/net's h2c package
	// is deprecated in its favour).
	srv := &http.Server{Handler: http.HandlerFunc(peerHandler), Protocols: new(http.Protocols)}
	srv.Protocols.SetUnencryptedHTTP2(true)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	proxy := newTapProxy(t, ln.Addr().String())

	// The client speaks HTTP/2 with prior knowledge too; x/net's
	// http2.Transport{AllowHTTP: true} is deprecated in favour of this.
	tr := &http.Transport{
		Protocols:          new(http.Protocols),
		DisableCompression: true, // the client gets the bytes as sent
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, proxy.ln.Addr().String())
		},
	}
	tr.Protocols.SetUnencryptedHTTP2(true)
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	type got struct {
		status  int
		sent, n int
	}
	const n = 20
	results := make([]got, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := fmt.Sprintf("http://h2c.test/r/%d?n=%d", i, 1000*i+1)
			if i%4 == 0 {
				url += "&gz=1"
			}
			var body io.Reader
			method := "GET"
			if i%2 == 1 {
				method, body = "POST", strings.NewReader(strings.Repeat("p", 70000*i))
				results[i].sent = 70000 * i
			}
			req, _ := http.NewRequest(method, url, body)
			resp, err := client.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			results[i].status, results[i].n, errs[i] = resp.StatusCode, len(b), err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	tr.CloseIdleConnections()
	evs, derrs := proxy.events(10 * time.Second)
	if len(derrs) > 0 {
		t.Fatalf("dissector errors: %v", derrs)
	}
	checkInvariants(t, evs)

	done := map[int]*event.HTTP{}
	for _, ev := range evs {
		h, ok := ev.(*event.HTTP)
		if !ok || h.Phase != event.PhaseDone {
			continue
		}
		i, err := strconv.Atoi(strings.TrimPrefix(strings.Split(h.Path, "?")[0], "/r/"))
		if err != nil || done[i] != nil {
			t.Fatalf("unexpected exchange %s %s", h.Method, h.Path)
		}
		done[i] = h
	}
	if len(done) != n {
		t.Fatalf("%d exchanges done; want %d", len(done), n)
	}
	for i, r := range results {
		h := done[i]
		if h.Err != "" || h.Status != r.status || h.RespBody.Size != int64(r.n) || h.ReqBody.Size != int64(r.sent) {
			t.Errorf("exchange %d: Err %q, status %d, sizes req %d resp %d; client got status %d, sent %d, received %d",
				i, h.Err, h.Status, h.ReqBody.Size, h.RespBody.Size, r.status, r.sent, r.n)
		}
		if want := int64(1000*i + 1); h.RespBody.DecodedSize != want {
			t.Errorf("exchange %d: DecodedSize %d; want %d", i, h.RespBody.DecodedSize, want)
		}
		if h.Proto != "h2c" || h.Authority != "h2c.test" {
			t.Errorf("exchange %d: Proto %q, Authority %q; want h2c, h2c.test", i, h.Proto, h.Authority)
		}
	}
}
