package httpact

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/htapod/htapod/event"
)

// Gate lets the command's HTTP/1 requests through to the server byte for
// byte, each once its head has been put to Config.Decide, for a flow where
// only requests are judged and none is changed: an egress policy's check
// of each Host. No HTTP server stands between the command and the server,
// and responses pass as bytes (the caller relays them), so such a flow
// costs about what a plain relay does.
//
// Heads are read with net/http's ReadRequest, as strict as the act
// layer's server: a head it refuses is answered 400, never forwarded. A
// request that Decide answers is not forwarded either: the server's side
// is ended (responses to earlier requests still come), then the answer
// goes to the command with Connection: close and the connection ends.
// After a request to switch protocols (Upgrade) the gate waits for the
// response's status (at most switchWait): once the server switched (101),
// everything passes. A CONNECT is judged like any request and opens no
// tunnel: a 2xx from a server that goes on speaking HTTP would otherwise
// let the next requests through unjudged. Heads whose body servers may
// frame differently (Transfer-Encoding with Content-Length, or in
// HTTP/1.0) or larger than 1 MiB are answered 400.
//
// Read is the command's side of the flow with what may be forwarded; the
// caller copies it to the server. Response sees what the server sends to
// the command; Answer is what to send the command after the server's side
// ended.
type Gate struct {
	cfg   *Config
	tee   func(dir event.Direction, b []byte) // the dissectors' view of the command's leg
	br    *bufio.Reader
	raw   []byte // bytes read from the command and not yet passed on
	ready int    // of raw, how many may be forwarded
	body  io.ReadCloser
	seq   uint32
	pass  bool // the protocol switched: everything passes
	err   error

	// The response to a request to switch protocols: switching delivers
	// its status (closed when the server's side ended first).
	switching <-chan int
	inHead    bool // a head is being read: raw is bounded

	mu      sync.Mutex
	status  chan<- int // Response's end of switching, while awaited
	seen    []byte     // the server's bytes since the switch was forwarded
	answer  []byte     // the reply to a refused request, once Read returned io.EOF
	dropped int        // bytes of the refused request's head
	sent    int        // requests forwarded
	ended   bool       // Done was called
}

// switchWait bounds the wait for the status of a switch of protocols:
// meanwhile nothing is read from the command.
const switchWait = 30 * time.Second

// errHeadTooLarge ends a head beyond maxRawHead.
var errHeadTooLarge = errors.New("request head too large")

// NewGate returns the gate for the command's leg src. tee is told the
// bytes the command sent that are not forwarded, and the answer, so that
// the dissectors see the exchange as the command did.
func NewGate(src io.Reader, cfg Config, tee func(event.Direction, []byte)) *Gate {
	g := &Gate{cfg: &cfg, tee: tee}
	g.br = bufio.NewReaderSize(rawReader{src, g}, 4<<10)
	return g
}

// rawReader keeps what the parser reads from the command, so that what is
// forwarded is those bytes, not net/http's rendering of them.
type rawReader struct {
	r io.Reader
	g *Gate
}

func (r rawReader) Read(b []byte) (int, error) {
	if r.g.inHead && len(r.g.raw) > maxRawHead {
		return 0, errHeadTooLarge
	}
	n, err := r.r.Read(b)
	if !r.g.pass {
		r.g.raw = append(r.g.raw, b[:n]...)
	}
	return n, err
}

// consumed is how many bytes of raw the parser has taken.
func (g *Gate) consumed() int { return len(g.raw) - g.br.Buffered() }

// Read returns the command's bytes that may be forwarded, in order.
func (g *Gate) Read(p []byte) (int, error) {
	for g.ready == 0 {
		if g.err != nil {
			return 0, g.err
		}
		if g.pass {
			return g.br.Read(p)
		}
		g.step()
	}
	n := copy(p, g.raw[:g.ready])
	g.ready -= n
	g.raw = g.raw[:copy(g.raw, g.raw[n:])]
	return n, nil
}

// step reads on: a body or a head, or waits for the status of a switch.
func (g *Gate) step() {
	var scratch [4 << 10]byte
	switch {
	case g.body == nil && g.switching != nil:
		var code int
		t := time.NewTimer(switchWait)
		select {
		case code = <-g.switching:
		case <-t.C: // no answer: judge what the command sends next
		}
		t.Stop()
		g.switching = nil
		g.pass = code == http.StatusSwitchingProtocols
		if g.pass {
			// All forwarded: raw holds only what br still buffers, which
			// Read now returns from br itself.
			g.raw = g.raw[:0]
		}
	case g.body != nil:
		_, err := g.body.Read(scratch[:])
		g.ready = g.consumed()
		if err == io.EOF {
			g.body.Close()
			g.body = nil
		} else if err != nil {
			g.err = err
		}
	default:
		g.head()
	}
}

// head reads and judges the next request head.
func (g *Gate) head() {
	if req, n := g.fastHead(); req != nil {
		g.br.Discard(n)
		g.judge(req, nil)
		return
	}
	g.inHead = true
	req, err := http.ReadRequest(g.br)
	g.inHead = false
	if err == nil && ambiguousFraming(g.raw[:g.consumed()], req.ProtoAtLeast(1, 1)) {
		err = errAmbiguousFraming
	}
	if err != nil {
		if g.consumed() == 0 && len(g.raw) == 0 && (err == io.EOF || isClosed(err)) {
			g.err = io.EOF // the command ended between requests
			return
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || isClosed(err) {
			// The command ended inside a head: the server sees the end,
			// not the part, which was never judged.
			g.raw, g.err = g.raw[:0], io.EOF
			return
		}
		g.refuse(h1Response(nil, badRequest(err)))
		return
	}
	body := req.Body
	req.Body = http.NoBody
	g.judge(req, body)
}

// errAmbiguousFraming refuses a head whose body servers may read in
// different ways.
var errAmbiguousFraming = errors.New("Transfer-Encoding with Content-Length, or in HTTP/1.0")

// ambiguousFraming says a request head (its bytes as sent) has
// Transfer-Encoding together with Content-Length, or in HTTP/1.0, where
// net/http ignores it and other servers do not (RFC 9112 §6.1: a server
// may reject such a request, and the gate must not read it otherwise
// than the server would).
func ambiguousFraming(head []byte, http11 bool) bool {
	te, cl := false, false
	for _, line := range bytes.Split(head, []byte("\n"))[1:] {
		name, _, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		name = bytes.TrimSpace(name)
		te = te || bytes.EqualFold(name, []byte("transfer-encoding"))
		cl = cl || bytes.EqualFold(name, []byte("content-length"))
	}
	return te && (cl || !http11)
}

// fastHead waits until the buffer holds a whole head and reads it with
// fastHead (then returns its length), or returns nil for net/http to read
// it: it is not such a head, or is larger than the buffer, or the
// command's bytes ended.
func (g *Gate) fastHead() (*http.Request, int) {
	for {
		buf, _ := g.br.Peek(g.br.Buffered())
		if end := bytes.Index(buf, []byte("\r\n\r\n")); end >= 0 {
			req, ok := fastHead(buf[:end+4])
			if !ok {
				return nil, 0
			}
			return req, end + 4
		}
		if len(buf) >= g.br.Size() {
			return nil, 0
		}
		if _, err := g.br.Peek(len(buf) + 1); err != nil {
			return nil, 0
		}
	}
}

// judge asks Decide about the request whose head was just read and lets
// it through (body, when not nil, after it) or refuses it.
func (g *Gate) judge(req *http.Request, body io.ReadCloser) {
	g.seq++
	prepare(req, g.cfg)
	d := g.cfg.Decide(req)
	req.Body = body
	g.cfg.Marks.h1(g.seq, d.Action)
	if a := answer(d); a != nil {
		g.refuse(h1Response(req, a))
		return
	}
	g.mu.Lock()
	g.sent++
	g.mu.Unlock()
	g.ready = g.consumed()
	if body != nil && body != http.NoBody {
		g.body = body
	}
	if req.Header.Get("Upgrade") != "" {
		ch := make(chan int, 1)
		g.mu.Lock()
		if g.ended {
			close(ch) // the server's side is over: no status will come
		} else {
			g.status, g.seen = ch, nil
		}
		g.mu.Unlock()
		g.switching = ch
	}
}

// refuse answers the request whose head was just read with resp: the
// head goes to the dissectors, not to the server, and Read ends.
func (g *Gate) refuse(resp *http.Response) {
	n := g.consumed()
	if g.tee != nil {
		g.tee(event.Up, g.raw[:n])
	}
	g.raw = g.raw[:0] // what follows the head is still in br (Unread)
	var buf bytes.Buffer
	resp.Header.Set("Connection", "close")
	resp.Write(&buf)
	g.mu.Lock()
	g.answer, g.dropped = buf.Bytes(), g.dropped+n
	g.mu.Unlock()
	g.ready, g.err = 0, io.EOF
}

// Answer is what to send the command once the server's side has ended
// (nil when no request was refused), and how many bytes the command sent
// that were not forwarded.
func (g *Gate) Answer() (answer []byte, dropped int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.answer, g.dropped
}

// Unread returns the command's bytes the gate read but did not pass on
// or drop (what followed a refused head), for a caller that drains the
// command's side after a refusal.
func (g *Gate) Unread() []byte {
	b, _ := g.br.Peek(g.br.Buffered())
	return b
}

// Refused says whether a request was refused, and whether none had been
// forwarded before it (then no response can be on its way).
func (g *Gate) Refused() (refused, first bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.answer != nil, g.sent == 0
}

// maxSeen bounds the response bytes kept while its status is awaited.
const maxSeen = 8 << 10

// Response sees bytes the server sent the command. While the response to
// a switch is awaited it reads its status, past interim (1xx) responses.
func (g *Gate) Response(b []byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.status == nil {
		return
	}
	g.seen = append(g.seen, b[:min(len(b), maxSeen-len(g.seen))]...)
	for {
		end := bytes.Index(g.seen, []byte("\r\n\r\n"))
		if end < 0 {
			if len(g.seen) == maxSeen {
				g.settle(0)
			}
			return
		}
		code := 0
		if len(g.seen) >= 12 && bytes.HasPrefix(g.seen, []byte("HTTP/1.")) {
			code, _ = strconv.Atoi(string(g.seen[9:12]))
		}
		if code < 100 || code >= 200 || code == http.StatusSwitchingProtocols {
			g.settle(code)
			return
		}
		g.seen = g.seen[end+4:] // an interim response: the final one follows
	}
}

// settle delivers the awaited status (g.mu held).
func (g *Gate) settle(code int) {
	g.status <- code
	g.status, g.seen = nil, nil
}

// Done says the server's side ended (or the flow failed): a status still
// awaited will not come.
func (g *Gate) Done() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ended = true
	if g.status != nil {
		close(g.status)
		g.status, g.seen = nil, nil
	}
}
