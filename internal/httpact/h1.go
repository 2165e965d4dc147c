package httpact

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"

	"github.com/htapod/htapod/respond"
)

// h1 serves one HTTP/1.x connection.
type h1 struct {
	cfg    *Config
	client net.Conn
	br     *bufio.Reader // the client's, through ctap
	ctap   *tap
	ubr    *bufio.Reader // the upstream's (through utap), once used
	utap   *tap
	reused bool   // the upstream leg answered a request before
	head   []byte // the bytes of the request head being served, or nil
	up     gather // what is forwarded upstream
	down   gather // what is relayed to the client
}

func serveH1(ctx context.Context, client net.Conn, cfg *Config) error {
	s := &h1{cfg: cfg, client: client, ctap: &tap{r: client}}
	s.br = bufio.NewReader(s.ctap)
	stop := context.AfterFunc(ctx, func() { client.Close() })
	defer stop()
	for seq := uint32(1); ; seq++ {
		more, err := s.exchange(ctx, seq)
		if err != nil || !more {
			return err
		}
	}
}

// exchange reads one request and answers it. more says the connection
// goes on.
func (s *h1) exchange(ctx context.Context, seq uint32) (more bool, err error) {
	req, head, err := readHead(s.ctap, s.br, http.ReadRequest)
	s.head = head
	if err == nil && head != nil && ambiguousFraming(head, req.ProtoAtLeast(1, 1)) {
		err = errAmbiguousFraming // the server might frame its body otherwise
	}
	if err != nil {
		if isClosed(err) {
			return false, nil
		}
		s.write(nil, h1Response(nil, badRequest(err)), nil)
		return false, fmt.Errorf("read request: %w", err)
	}
	if req.Header.Get("Expect") == "100-continue" && req.ContentLength != 0 {
		// The client waits for this before it sends the body that
		// prepare reads; the upstream then gets the body at once.
		if _, err := io.WriteString(s.client, "HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
			return false, err
		}
		req.Header.Del("Expect")
		s.head = nil // the upstream must not wait for the body either
	}
	restore, err := prepare(req, s.cfg)
	if err != nil {
		return false, err
	}
	d, ok := decide(ctx, req, s.cfg, restore)
	s.cfg.Marks.h1(seq, d.Action)
	if !ok {
		return false, nil
	}
	if d.Fault != nil && d.Fault.Timeout {
		io.Copy(io.Discard, s.br) // until the client gives up
		return false, nil
	}
	if a := answer(d); a != nil {
		io.Copy(io.Discard, req.Body)
		if err := s.write(req, h1Response(req, a), d.Fault); err != nil {
			return false, err
		}
		return !req.Close, nil
	}
	return s.forward(req, d.Fault)
}

// forward sends req upstream and relays the response (and, after a 101,
// the rest of the connection).
func (s *h1) forward(req *http.Request, f *respond.Fault) (bool, error) {
	if s.cfg.Upstream == nil {
		io.Copy(io.Discard, req.Body)
		return !req.Close, s.write(req, h1Response(req, noUpstream(req)), f)
	}
	if s.ubr == nil {
		s.utap = &tap{r: s.cfg.Upstream}
		s.ubr = bufio.NewReader(s.utap)
	}
	if err := s.send(req); err != nil {
		return false, s.failed(req, fmt.Errorf("forward request: %w", err))
	}
	for {
		resp, head, err := readHead(s.utap, s.ubr, func(br *bufio.Reader) (*http.Response, error) {
			return http.ReadResponse(br, req)
		})
		if err != nil {
			return false, s.failed(req, fmt.Errorf("read response: %w", err))
		}
		s.reused = true
		if resp.StatusCode == http.StatusSwitchingProtocols {
			if err := s.relay(req, resp, head, nil); err != nil {
				return false, err
			}
			s.splice()
			return false, nil
		}
		if err := s.relay(req, resp, head, f); err != nil {
			return false, err
		}
		if resp.StatusCode >= 200 {
			return !req.Close && !resp.Close, nil
		}
	}
}

// send writes req upstream: its head as the client sent it and its body
// framed as the head says, or, when the head's bytes were not kept, as
// net/http writes it.
func (s *h1) send(req *http.Request) error {
	up := s.cfg.Upstream
	if s.head == nil {
		if _, ok := req.Header["User-Agent"]; !ok {
			req.Header["User-Agent"] = []string{""} // Write would add Go's
		}
		out := req.WithContext(context.Background())
		out.RequestURI = ""
		return out.Write(up)
	}
	g := &s.up
	g.reset(up, s.br, chunked(req.TransferEncoding))
	g.Write(s.head)
	if err := writeBody(g, g.body(req.Body), g.chunked, func() http.Header { return req.Trailer }); err != nil {
		return err
	}
	return g.Flush()
}

// relay writes a forwarded response to the client: its head as the server
// sent it and its body as it comes, through the fault's throttle (or as
// net/http writes it, with a reset fault or when the head was not kept).
func (s *h1) relay(req *http.Request, resp *http.Response, head []byte, f *respond.Fault) error {
	if head == nil || (f != nil && f.Reset) {
		return s.write(req, resp, f)
	}
	defer resp.Body.Close()
	var w io.Writer = s.client
	if f != nil && f.Throttle > 0 {
		w = &throttled{w: w, rate: f.Throttle}
	}
	g := &s.down
	g.reset(w, s.ubr, chunked(resp.TransferEncoding))
	g.Write(head)
	if !bodyless(req.Method, resp.StatusCode) {
		if err := writeBody(g, g.body(resp.Body), g.chunked, func() http.Header { return resp.Trailer }); err != nil {
			return fmt.Errorf("write response: %w", err)
		}
	}
	if err := g.Flush(); err != nil {
		return fmt.Errorf("write response: %w", err)
	}
	return nil
}

// failed answers a request whose forwarding failed with a 502, except
// when a kept-alive upstream connection was closed before this request:
// then the client's connection is closed too, as the server's was, and
// the client retries as it would have.
func (s *h1) failed(req *http.Request, err error) error {
	if s.reused && isClosed(err) {
		return nil
	}
	s.write(req, h1Response(req, errBadGateway(err)), nil)
	return err
}

// write sends resp to the client, through the fault's throttle or cut.
func (s *h1) write(req *http.Request, resp *http.Response, f *respond.Fault) error {
	defer resp.Body.Close()
	var w io.Writer = s.client
	if f != nil && f.Throttle > 0 {
		w = &throttled{w: w, rate: f.Throttle}
	}
	if f != nil && f.Reset {
		return s.cut(resp, w)
	}
	bw := bufio.NewWriterSize(w, 16<<10)
	if err := resp.Write(bw); err != nil {
		return fmt.Errorf("write response: %w", err)
	}
	return bw.Flush()
}

// cut writes the response's head and half of (the start of) its body,
// then resets the connection.
func (s *h1) cut(resp *http.Response, w io.Writer) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if resp.ContentLength < 0 && len(resp.TransferEncoding) == 0 {
		resp.ContentLength = int64(len(body))
	}
	var buf bytes.Buffer
	resp.Write(&buf)
	n := int64(buf.Len() - len(body) + len(body)/2)
	c := &cutAfter{w: w, n: n, cut: s.cfg.Abort}
	c.Write(buf.Bytes())
	return errReset
}

// splice relays the rest of an upgraded connection both ways, bytes
// already buffered first, until both directions end.
func (s *h1) splice() {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		io.Copy(s.cfg.Upstream, s.br)
		closeWrite(s.cfg.Upstream)
	}()
	go func() {
		defer wg.Done()
		io.Copy(s.client, s.ubr)
		closeWrite(s.client)
	}()
	wg.Wait()
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

func badRequest(err error) *respond.Response {
	h := http.Header{}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Connection", "close")
	return &respond.Response{Status: http.StatusBadRequest, Header: h,
		Body: fmt.Appendf(nil, "htapod: bad request: %v\n", err)}
}
