package lab

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/htapod/htapod/internal/testnet"
)

// IndexHTML is the body of GET / on the lab's HTTP servers, so that a test
// can compare what a client printed with what the server sent.
const IndexHTML = `<!doctype html>
<html>
<head><title>www.lab.test</title></head>
<body>
<h1>Welcome to the htapod lab</h1>
<p>This page was served from inside a sealed network namespace.</p>
</body>
</html>
`

// maxBody bounds what /echo, /bytes and the TCP echo server handle, so that
// a broken client cannot make a test eat the machine's memory.
const maxBody = 64 << 20

// Pattern returns n bytes of the deterministic content that /bytes?n=N
// sends: the lines "000000 lab\n", "000001 lab\n", ... cut at n bytes.
func Pattern(n int) []byte {
	b := make([]byte, 0, n+16)
	for i := 0; len(b) < n; i++ {
		b = fmt.Appendf(b, "%06d lab\n", i%1000000)
	}
	return b[:n]
}

// Handler returns the handler of the lab's web servers:
//
//	GET /            IndexHTML
//	POST /echo       the request body, as it came (at most 64 MiB)
//	GET /bytes?n=N   Pattern(N), with a Content-Length (N at most 64 MiB)
//
// Anything else is 404.
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, IndexHTML)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		// Read it all first: an HTTP/1 server that starts its response
		// stops reading the request body.
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		if err != nil {
			http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})
	mux.HandleFunc("/bytes", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < 0 || n > maxBody {
			http.Error(w, "n must be a number of bytes from 0 to 67108864", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(n))
		w.Write(Pattern(n))
	})
	return mux
}

// ServeHTTP serves h over HTTP/1.1 on addr in the lab until the test ends.
func (l *Lab) ServeHTTP(addr string, h http.Handler) {
	l.tb.Helper()
	ln := l.Listen("tcp", addr)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	l.tb.Cleanup(func() { srv.Close() })
}

// StartServers starts the lab's usual servers: Handler over HTTP on port 80
// of WWW4, WWW6 and API4, and the TCP and UDP echo servers on port 7 of
// WWW4.
func (l *Lab) StartServers() {
	l.tb.Helper()
	for _, ip := range []string{WWW4, WWW6, API4} {
		l.ServeHTTP(net.JoinHostPort(ip, "80"), Handler())
	}
	l.ServeTCPEcho(net.JoinHostPort(WWW4, "7"))
	l.ServeUDPEcho(net.JoinHostPort(WWW4, "7"))
}

// ServeTCPEcho runs a half-close echo server on addr until the test ends:
// for each connection it reads until EOF (the client's shutdown of its
// write side), then writes back all it read and closes. A relay that does
// not pass the half-close on makes the client wait forever, so this server
// is the test for it. A connection lasts at most 30 seconds.
func (l *Lab) ServeTCPEcho(addr string) {
	l.tb.Helper()
	testnet.ServeConns(l.tb, l.Listen("tcp", addr), echoHalfClose)
}

// echoHalfClose is the body of one TCP echo connection.
func echoHalfClose(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	data, err := io.ReadAll(io.LimitReader(c, maxBody))
	if err != nil {
		return
	}
	c.Write(data)
}

// ServeReset runs a rude server on addr until the test ends: it accepts a
// connection, waits for the first bytes from the client (a request), and
// then aborts the connection with a TCP RST (close with SO_LINGER 0). A
// client sees "connection reset by peer"; a relay that turns the RST into a
// FIN makes it see an empty reply instead.
func (l *Lab) ServeReset(addr string) {
	l.tb.Helper()
	testnet.ServeConns(l.tb, l.Listen("tcp", addr), func(c net.Conn) {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Read(make([]byte, 4096))
		c.(*net.TCPConn).SetLinger(0)
	})
}

// ServeUDPEcho runs a UDP echo server on addr until the test ends: every
// datagram goes back to its sender unchanged.
func (l *Lab) ServeUDPEcho(addr string) {
	l.tb.Helper()
	testnet.ServeUDPEcho(l.tb, l.ListenPacket("udp", addr))
}
