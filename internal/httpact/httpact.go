// Package httpact speaks HTTP as the server on the command's leg of a
// flow, so that htapod can act on single requests: each request is put to
// a respond.Decider, then forwarded upstream (its response streamed back),
// answered by htapod, or disturbed by a fault.
//
// HTTP/1.x is read with net/http's ReadRequest and written with its
// Request.Write and Response.Write, one exchange after another (as a
// server must answer pipelined requests in order); HTTP/2 is served by
// golang.org/x/net/http2's Server and forwarded with its Transport over the
// already connected upstream leg. Nothing here reports events: the caller
// tees the command's leg to the dissectors, which see what the command
// sent and received, and labels the exchanges with Marks.
package httpact

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/htapod/htapod/respond"
)

// maxDecideBody bounds the request bodies that are read before the
// Decider is asked: only bodies of a known length up to it are.
const maxDecideBody = 1 << 20

// Config of one flow served by Serve.
type Config struct {
	// Decide is asked per request; required.
	Decide respond.Decider
	// TLS says the command's leg is the plaintext of intercepted TLS
	// (URLs are https); ALPN is what was negotiated ("h2" for HTTP/2).
	TLS  bool
	ALPN string
	// H2C says the command opened with HTTP/2's preface without ALPN
	// (prior knowledge, plaintext gRPC): it is served as HTTP/2.
	H2C bool
	// Host is the authority to use when a request carries none (HTTP/1.0
	// without Host): the SNI or the destination address.
	Host string
	// Upstream is the server's leg (plaintext), or nil when there is none
	// (a replay): a request the Decider forwards then gets a 502.
	Upstream net.Conn
	// Abort resets the command's connection (the reset fault); nil closes
	// it.
	Abort func()
	// Marks, when set, is told each exchange's action.
	Marks *Marks
}

// Looks says whether the first plaintext bytes of a flow (and its ALPN)
// are HTTP that Serve can speak: HTTP/2 (by ALPN or preface) or HTTP/1.
func Looks(first []byte, alpn string) bool {
	if alpn == "h2" || bytes.HasPrefix(first, h2Preface) {
		return true
	}
	for _, m := range methods {
		if bytes.HasPrefix(first, []byte(m)) {
			return true
		}
	}
	return false
}

// Undecided says whether b is too short to tell by Looks: a proper
// prefix of a method with its space or of the HTTP/2 preface.
func Undecided(b []byte) bool {
	if len(b) < len(h2Preface) && bytes.HasPrefix(h2Preface, b) {
		return true
	}
	for _, m := range methods {
		if len(b) < len(m) && strings.HasPrefix(m, string(b)) {
			return true
		}
	}
	return false
}

var h2Preface = []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

var methods = []string{"GET ", "POST ", "PUT ", "HEAD ", "DELETE ", "OPTIONS ", "PATCH ",
	"TRACE ", "PROPFIND ", "PROPPATCH ", "MKCOL ", "COPY ", "MOVE ", "LOCK ", "UNLOCK ",
	"REPORT ", "SEARCH ", "PURGE ", "MKCALENDAR "}

// Serve speaks HTTP on client (the command's leg, plaintext) until the
// command or the upstream ends the connection, or ctx is done. It does
// not close client or Upstream; the caller does.
func Serve(ctx context.Context, client net.Conn, cfg Config) error {
	if cfg.Abort == nil {
		cfg.Abort = func() { client.Close() }
	}
	if cfg.ALPN == "h2" || cfg.H2C {
		return serveH2(ctx, client, &cfg)
	}
	return serveH1(ctx, client, &cfg)
}

// prepare reads the start of r's body so that the Decider can look at it
// and sets r.URL's scheme and host. It returns the function that restores
// the body, whole, after the Decider has read what it wanted.
func prepare(r *http.Request, cfg *Config) (restore func(), err error) {
	r.URL.Scheme = "http"
	if cfg.TLS {
		r.URL.Scheme = "https"
	}
	if r.Host == "" {
		r.Host = cfg.Host
	}
	r.URL.Host = r.Host
	if r.Body == nil || r.Body == http.NoBody {
		r.Body = http.NoBody
		return func() {}, nil
	}
	if r.ContentLength < 0 || r.ContentLength > maxDecideBody {
		// A body of unknown length may be a stream whose client waits for
		// an answer before it sends more (gRPC, a chunked upload): the
		// Decider does not see it.
		body := r.Body
		r.Body = http.NoBody
		return func() { r.Body = body }, nil
	}
	head, err := io.ReadAll(io.LimitReader(r.Body, maxDecideBody))
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	rest := r.Body
	r.Body = io.NopCloser(bytes.NewReader(head))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(head)), nil }
	return func() {
		r.Body = readCloser{io.MultiReader(bytes.NewReader(head), rest), rest}
		r.GetBody = nil
	}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// decide asks the Decider, waits out a Delay, and returns the decision.
// It returns false when ctx ended during the delay.
func decide(ctx context.Context, r *http.Request, cfg *Config, restore func()) (respond.Decision, bool) {
	d := cfg.Decide(r)
	restore()
	if d.Fault != nil && d.Fault.Delay > 0 {
		t := time.NewTimer(d.Fault.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return d, false
		}
	}
	return d, true
}

// answer is the Response htapod gives for d, or nil to forward.
func answer(d respond.Decision) *respond.Response {
	if d.Response != nil {
		return d.Response
	}
	if d.Fault != nil && d.Fault.Status != 0 {
		return faultResponse(d.Fault.Status)
	}
	return nil
}

func faultResponse(status int) *respond.Response {
	h := http.Header{}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Htapod-Fault", fmt.Sprintf("status:%d", status))
	return &respond.Response{Status: status, Header: h,
		Body: fmt.Appendf(nil, "htapod: fault status:%d\n", status)}
}

// noUpstream answers a forwarded request when there is no upstream.
func noUpstream(r *http.Request) *respond.Response {
	h := http.Header{}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	return &respond.Response{Status: http.StatusBadGateway, Header: h,
		Body: fmt.Appendf(nil, "htapod: no upstream for %s %s\n", r.Method, r.URL)}
}

// errBadGateway answers a request whose forwarding failed.
func errBadGateway(err error) *respond.Response {
	h := http.Header{}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	return &respond.Response{Status: http.StatusBadGateway, Header: h,
		Body: fmt.Appendf(nil, "htapod: upstream failed: %v\n", err)}
}

// isClosed says err is the normal end of a connection.
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
