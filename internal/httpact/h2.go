package httpact

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"

	"golang.org/x/net/http2"

	"github.com/htapod/htapod/respond"
)

// h2 serves one HTTP/2 connection: x/net/http2's server on the command's
// leg, its client on the upstream leg (opened at the first forwarded
// request).
type h2 struct {
	cfg *Config

	once sync.Once
	cc   *http2.ClientConn
	err  error
}

func serveH2(ctx context.Context, client net.Conn, cfg *Config) error {
	s := &h2{cfg: cfg}
	srv := &http2.Server{}
	srv.ServeConn(client, &http2.ServeConnOpts{
		Context:    ctx,
		BaseConfig: &http.Server{},
		Handler:    http.HandlerFunc(s.serve),
	})
	if s.cc != nil {
		s.cc.Close()
	}
	return nil
}

func (s *h2) upstream() (*http2.ClientConn, error) {
	s.once.Do(func() {
		t := &http2.Transport{DisableCompression: true, AllowHTTP: true}
		s.cc, s.err = t.NewClientConn(s.cfg.Upstream)
	})
	return s.cc, s.err
}

func (s *h2) serve(w http.ResponseWriter, r *http.Request) {
	path := r.RequestURI
	restore, err := prepare(r, s.cfg)
	if err != nil {
		s.cfg.Marks.stream(r.Method, path, "")
		panic(http.ErrAbortHandler)
	}
	d, ok := decide(r.Context(), r, s.cfg, restore)
	s.cfg.Marks.stream(r.Method, path, d.Action)
	if !ok {
		return
	}
	if d.Fault != nil && d.Fault.Timeout {
		<-r.Context().Done()
		return
	}
	if a := answer(d); a != nil {
		io.Copy(io.Discard, r.Body)
		s.answer(w, a, d.Fault)
		return
	}
	if s.cfg.Upstream == nil {
		io.Copy(io.Discard, r.Body)
		s.answer(w, noUpstream(r), d.Fault)
		return
	}
	s.forward(w, r, d.Fault)
}

func (s *h2) answer(w http.ResponseWriter, a *respond.Response, f *respond.Fault) {
	h, body := encodeBody(a)
	for k, v := range h {
		if hopByHop(k) {
			continue
		}
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(a.Status)
	s.body(w, func(dst io.Writer) error { _, err := dst.Write(body); return err }, int64(len(body)), f)
}

// body writes the response body through the fault's throttle or cut.
// size is the body's length when known, else -1.
func (s *h2) body(w http.ResponseWriter, copyTo func(io.Writer) error, size int64, f *respond.Fault) {
	fl, _ := w.(http.Flusher)
	flush := func() {
		if fl != nil {
			fl.Flush()
		}
	}
	var dst io.Writer = flushWriter{w, flush}
	if f != nil && f.Throttle > 0 {
		dst = &throttled{w: w, rate: f.Throttle, flush: flush}
	}
	if f != nil && f.Reset {
		n := size / 2
		if size < 0 {
			n = 16 << 10
		}
		cut := func() { flush(); s.cfg.Abort() }
		if n == 0 {
			cut()
			panic(http.ErrAbortHandler)
		}
		dst = &cutAfter{w: dst, n: n, cut: cut}
	}
	if err := copyTo(dst); err == errReset {
		panic(http.ErrAbortHandler)
	}
}

type flushWriter struct {
	w     io.Writer
	flush func()
}

func (f flushWriter) Write(b []byte) (int, error) {
	n, err := f.w.Write(b)
	f.flush()
	return n, err
}

func (s *h2) forward(w http.ResponseWriter, r *http.Request, f *respond.Fault) {
	cc, err := s.upstream()
	if err != nil {
		s.answer(w, errBadGateway(err), nil)
		return
	}
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.Body = r.Body
	resp, err := cc.RoundTrip(out)
	if err != nil {
		s.answer(w, errBadGateway(err), nil)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		if hopByHop(k) {
			continue
		}
		w.Header()[k] = v
	}
	for k := range resp.Trailer {
		w.Header().Add("Trailer", k)
	}
	w.WriteHeader(resp.StatusCode)
	s.body(w, func(dst io.Writer) error {
		_, err := io.Copy(dst, resp.Body)
		return err
	}, resp.ContentLength, f)
	for k, v := range resp.Trailer {
		w.Header()[http.TrailerPrefix+k] = v
	}
}

// hopByHop says a header field may not be sent in HTTP/2 (RFC 9113
// §8.2.2), or is set by the server from the body.
func hopByHop(k string) bool {
	switch strings.ToLower(k) {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "trailer":
		return true
	}
	return false
}
