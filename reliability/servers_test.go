package reliability

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/htapod/htapod/internal/lab"
	"github.com/htapod/htapod/internal/testnet"
)

// Ports of the servers this package runs on lab.WWW4, besides the lab's
// own (HTTP on 80, the half-close echo on 7, ServeReset's).
const (
	portStream    = 9001 // serveStream, plain TCP
	portStreamTLS = 9002 // serveStream over TLS with the lab's certificate
	portRR        = 9010 // serveRR
	portEcho      = 9020 // serveEcho
	portRevHalf   = 9021 // serveRevHalf
	portRstSink   = 9022 // serveRstSink
	portReset     = 9023 // lab's ServeReset
	portRefused   = 81   // nothing listens
	portUDPEcho   = 9030 // serveUDPEcho
	portSlow      = 9100 // serveSlowHTTP
)

// addr is lab.WWW4:port.
func addr(port int) string { return net.JoinHostPort(lab.WWW4, fmt.Sprint(port)) }

// serveConns runs handle on its own goroutine for every connection
// accepted on addr in the lab (over TLS when cfg is set) until the test
// ends; then it closes the listener and every connection and waits for the
// handlers.
func (e *env) serveConns(addr string, cfg *tls.Config, handle func(net.Conn)) {
	e.t.Helper()
	ln := e.Listen("tcp", addr)
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	testnet.ServeConns(e.t, ln, handle)
}

// A streamResult is what the stream server saw of one connection.
type streamResult struct {
	Dir string // "UP": the client sent; "DOWN": the server sent
	N   int64
	Sum string // SHA-256 of the N bytes, hex
	Err error
}

// serveStream runs the stream server on addr: a client sends "UP n seed"
// and then its bytes until EOF, which the server hashes and answers with
// "count sum"; or "DOWN n seed", and the server sends n bytes of the
// stream seed (newStream) and closes. Each connection's result goes to the
// returned channel. With cert, the server speaks TLS.
func (e *env) serveStream(addr string, cert *tls.Certificate, timeout time.Duration) <-chan streamResult {
	e.t.Helper()
	results := make(chan streamResult, 16)
	var cfg *tls.Config
	if cert != nil {
		cfg = &tls.Config{Certificates: []tls.Certificate{*cert}}
	}
	e.serveConns(addr, cfg, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(timeout))
		br := bufio.NewReader(c)
		line, err := br.ReadString('\n')
		if err != nil {
			results <- streamResult{Err: fmt.Errorf("read the request: %w", err)}
			return
		}
		var r streamResult
		var seed string
		if _, err := fmt.Sscanf(line, "%s %d %s", &r.Dir, &r.N, &seed); err != nil {
			results <- streamResult{Err: fmt.Errorf("request %q: %w", line, err)}
			return
		}
		h := sha256.New()
		switch r.Dir {
		case "UP":
			r.N, r.Err = io.Copy(h, br)
			r.Sum = fmt.Sprintf("%x", h.Sum(nil))
			if _, err := fmt.Fprintf(c, "%d %s\n", r.N, r.Sum); err != nil && r.Err == nil {
				r.Err = err
			}
		case "DOWN":
			want := r.N
			r.N, r.Err = writeStream(c, h, seed, want)
			r.Sum = fmt.Sprintf("%x", h.Sum(nil))
			if r.Err == nil {
				r.Err = closeWrite(c)
			}
		default:
			r.Err = fmt.Errorf("request %q", line)
		}
		results <- r
	})
	return results
}

// An rrServer answers "REQ i" with "RESP i" until the client closes, and
// counts the connections open at once.
type rrServer struct {
	open, peak, accepted atomic.Int64
}

// serveRR runs an rrServer on addr.
func (e *env) serveRR(addr string) *rrServer {
	e.t.Helper()
	s := &rrServer{}
	e.serveConns(addr, nil, func(c net.Conn) {
		s.accepted.Add(1)
		n := s.open.Add(1)
		defer s.open.Add(-1)
		for p := s.peak.Load(); n > p && !s.peak.CompareAndSwap(p, n); p = s.peak.Load() {
		}
		c.SetDeadline(time.Now().Add(2 * time.Minute))
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			var i int
			if _, err := fmt.Sscanf(line, "REQ %d\n", &i); err != nil {
				return
			}
			if _, err := fmt.Fprintf(c, "RESP %d\n", i); err != nil {
				return
			}
		}
	})
	return s
}

// serveEcho runs a full-duplex echo on addr: everything back as it comes,
// and a FIN after the client's.
func (e *env) serveEcho(addr string) {
	e.t.Helper()
	e.serveConns(addr, nil, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(2 * time.Minute))
		if _, err := io.Copy(c, c); err == nil {
			closeWrite(c)
		}
	})
}

// A tally counts outcomes by name; it is safe for concurrent use.
type tally struct {
	mu sync.Mutex
	m  map[string]int
}

func (t *tally) add(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]int{}
	}
	t.m[name]++
}

// take returns the counts so far and starts again from none.
func (t *tally) take() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.m
	t.m = nil
	if m == nil {
		m = map[string]int{}
	}
	return m
}

// serveRevHalf runs the server that half-closes first: it sends
// revHalfSize bytes of lab.Pattern and its FIN, then reads until the
// client's FIN and tallies "ok" when it got the same bytes back.
func (e *env) serveRevHalf(addr string) *tally {
	e.t.Helper()
	t := &tally{}
	e.serveConns(addr, nil, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(time.Minute))
		want := lab.Pattern(revHalfSize)
		if _, err := c.Write(want); err != nil {
			t.add("write-" + outcome(err))
			return
		}
		if err := closeWrite(c); err != nil {
			t.add("closewrite-" + outcome(err))
			return
		}
		got, err := io.ReadAll(c)
		switch {
		case err != nil:
			t.add("read-" + outcome(err))
		case string(got) != string(want):
			t.add(fmt.Sprintf("short-%d", len(got)))
		default:
			t.add("ok")
		}
	})
	return t
}

// serveRstSink runs the server for checkRstSent: it reads 64 kB, answers
// "got", and tallies how the connection then ended ("reset" is right).
func (e *env) serveRstSink(addr string) *tally {
	e.t.Helper()
	t := &tally{}
	e.serveConns(addr, nil, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(time.Minute))
		if _, err := io.ReadFull(c, make([]byte, 64<<10)); err != nil {
			t.add("upload-" + outcome(err))
			return
		}
		if _, err := io.WriteString(c, "got"); err != nil {
			t.add("ack-" + outcome(err))
			return
		}
		_, err := io.Copy(io.Discard, c)
		t.add(outcome(err))
	})
	return t
}

// serveUDPEcho runs a UDP echo on addr with large socket buffers and
// returns how many datagrams it received.
func (e *env) serveUDPEcho(addr string) *atomic.Int64 {
	e.t.Helper()
	pc := e.ListenPacket("udp", addr)
	if uc, ok := pc.(*net.UDPConn); ok {
		uc.SetReadBuffer(4 << 20)
		uc.SetWriteBuffer(4 << 20)
	}
	var n atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			m, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			n.Add(1)
			pc.WriteTo(buf[:m], from)
		}
	}()
	e.t.Cleanup(func() { pc.Close(); <-done })
	return &n
}

// serveSlowHTTP serves GET /slow on addr: a body that goes on for 30 s,
// 16 kB every 20 ms. Every request that starts is announced on the
// returned channel.
func (e *env) serveSlowHTTP(addr string) <-chan struct{} {
	e.t.Helper()
	started := make(chan struct{}, 16)
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		chunk := lab.Pattern(16 << 10)
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		for i := 0; ctx.Err() == nil; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			if i == 0 {
				select {
				case started <- struct{}{}:
				default:
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	e.ServeHTTP(addr, mux)
	return started
}
