package relay

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/htapod/htapod/event"
)

// pipeHarness is a Pipe between two loopback TCP connections:
//
//	client <-> inner ==Pipe== outer <-> server
type pipeHarness struct {
	client, server *net.TCPConn
	done           <-chan struct{}
	res            Result
}

func newTestPipe(tb testing.TB, tee Tee) *pipeHarness {
	tb.Helper()
	client, inner := newTCPPair(tb)
	outer, server := newTCPPair(tb)
	deadline := time.Now().Add(testTimeout)
	client.SetDeadline(deadline)
	server.SetDeadline(deadline)
	h := &pipeHarness{client: client, server: server}
	h.done = start(func() { h.res = Pipe(inner, outer, tee) })
	tb.Cleanup(func() {
		client.Close()
		server.Close()
		<-h.done
	})
	return h
}

// result waits for Pipe to return.
func (h *pipeHarness) result(tb testing.TB) Result {
	tb.Helper()
	await(tb, h.done, "Pipe")
	return h.res
}

// sendAll writes b to c, half-closes c, and reports the write error.
func sendAll(c *net.TCPConn, b []byte) <-chan error {
	ch := make(chan error, 1)
	go func() {
		_, err := c.Write(b)
		if err == nil {
			err = c.CloseWrite()
		}
		ch <- err
	}()
	return ch
}

// hashAll reads c to EOF and returns the sha256 of what it read.
func hashAll(c io.Reader) <-chan hashed {
	ch := make(chan hashed, 1)
	go func() {
		h := sha256.New()
		n, err := io.Copy(h, c)
		ch <- hashed{sum: h.Sum(nil), n: n, err: err}
	}()
	return ch
}

type hashed struct {
	sum []byte
	n   int64
	err error
}

func randomBytes(tb testing.TB, n int) []byte {
	tb.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("random: %v", err)
	}
	return b
}

func TestPipeRelaysBytesUnchanged(t *testing.T) {
	const size = 4 << 20
	up := randomBytes(t, size)
	down := randomBytes(t, size)
	h := newTestPipe(t, nil)

	upErr, downErr := sendAll(h.client, up), sendAll(h.server, down)
	atServer, atClient := hashAll(h.server), hashAll(h.client)
	for _, c := range []struct {
		name string
		got  hashed
		sent []byte
		werr error
	}{
		{"up", <-atServer, up, <-upErr},
		{"down", <-atClient, down, <-downErr},
	} {
		if c.werr != nil {
			t.Errorf("%s: write: %v", c.name, c.werr)
		}
		if c.got.err != nil {
			t.Errorf("%s: read: %v", c.name, c.got.err)
		}
		if want := sha256.Sum256(c.sent); c.got.n != size || !bytes.Equal(c.got.sum, want[:]) {
			t.Errorf("%s: received %d bytes with sha256 %x; want %d bytes with %x", c.name, c.got.n, c.got.sum, size, want)
		}
	}
	res := h.result(t)
	if res.Up != size || res.Down != size || res.End != event.Closed || res.Err != nil {
		t.Errorf("Pipe() = %+v; want Up=Down=%d, End=closed, no error", res, size)
	}
}

func TestPipeHalfClose(t *testing.T) {
	request := []byte("GET / HTTP/1.0\r\n\r\n")
	reply := []byte("HTTP/1.0 200 OK\r\n\r\nhello")
	h := newTestPipe(t, nil)

	if err := <-sendAll(h.client, request); err != nil {
		t.Fatalf("client write+CloseWrite: %v", err)
	}
	// The server sees the request and then EOF: the FIN was mirrored.
	got, err := io.ReadAll(h.server)
	if err != nil || !bytes.Equal(got, request) {
		t.Fatalf("server ReadAll = %q, %v; want %q, nil", got, err, request)
	}
	// Its write side is still open: the reply reaches the client.
	if _, err := h.server.Write(reply); err != nil {
		t.Fatalf("server write after EOF: %v", err)
	}
	h.server.Close()
	got, err = io.ReadAll(h.client)
	if err != nil || !bytes.Equal(got, reply) {
		t.Fatalf("client ReadAll = %q, %v; want %q, nil", got, err, reply)
	}
	res := h.result(t)
	want := Result{Up: int64(len(request)), Down: int64(len(reply)), End: event.Closed}
	if res != want {
		t.Errorf("Pipe() = %+v; want %+v", res, want)
	}
}

func TestPipeMirrorsReset(t *testing.T) {
	tests := []struct {
		name      string
		resetting func(h *pipeHarness) (resetter, peer *net.TCPConn)
	}{
		{"client resets", func(h *pipeHarness) (*net.TCPConn, *net.TCPConn) { return h.client, h.server }},
		{"server resets", func(h *pipeHarness) (*net.TCPConn, *net.TCPConn) { return h.server, h.client }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestPipe(t, nil)
			resetter, peer := tt.resetting(h)
			// Data first, so that both legs are known to be established.
			if _, err := resetter.Write([]byte("x")); err != nil {
				t.Fatalf("write: %v", err)
			}
			if _, err := io.ReadFull(peer, make([]byte, 1)); err != nil {
				t.Fatalf("peer read: %v", err)
			}
			resetter.SetLinger(0)
			resetter.Close()

			_, err := peer.Read(make([]byte, 1))
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("peer Read after reset: err = %v; want ECONNRESET", err)
			}
			res := h.result(t)
			if res.End != event.Reset || !errors.Is(res.Err, syscall.ECONNRESET) {
				t.Errorf("Pipe() = %+v; want End=reset, Err=ECONNRESET", res)
			}
		})
	}
}

// teeRecorder keeps what a Tee saw, per direction.
type teeRecorder struct {
	mu  sync.Mutex
	got [2]bytes.Buffer
}

func (r *teeRecorder) tee(dir Direction, b []byte) {
	r.mu.Lock()
	r.got[dir].Write(b)
	r.mu.Unlock()
}

func (r *teeRecorder) bytes(dir Direction) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.got[dir].Bytes())
}

func TestPipeTee(t *testing.T) {
	up := randomBytes(t, 300<<10)
	down := randomBytes(t, 200<<10)
	var rec teeRecorder
	h := newTestPipe(t, rec.tee)
	upErr, downErr := sendAll(h.client, up), sendAll(h.server, down)
	atServer, atClient := hashAll(h.server), hashAll(h.client)
	for _, ch := range []<-chan hashed{atServer, atClient} {
		if r := <-ch; r.err != nil {
			t.Fatalf("read: %v", r.err)
		}
	}
	for _, ch := range []<-chan error{upErr, downErr} {
		if err := <-ch; err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	h.result(t)
	for _, c := range []struct {
		dir  Direction
		want []byte
	}{{Up, up}, {Down, down}} {
		if got := rec.bytes(c.dir); !bytes.Equal(got, c.want) {
			t.Errorf("tee(%v) saw %d bytes (equal=false); want the %d bytes sent", c.dir, len(got), len(c.want))
		}
	}
}

func TestDirectionString(t *testing.T) {
	for _, tt := range []struct {
		d    Direction
		want string
	}{{Up, "up"}, {Down, "down"}} {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("Direction(%d).String() = %q; want %q", int(tt.d), got, tt.want)
		}
	}
}
