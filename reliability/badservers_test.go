package reliability

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"time"
)

// Ports of the misbehaving servers on lab.WWW4.
const (
	portGarbage   = 9201 // answers a request with binary garbage
	portBigHeader = 9202 // answers with a 1 MiB header field
	portEndless   = 9203 // answers with a header that goes on for 5 s
	portSlowloris = 9204 // records what a slowloris client sends
	portBadMAC    = 9443 // TLS, then a record with a bad MAC
)

// A transcript is what a misbehaving server sent (or, for the slowloris
// sink, received) on one connection.
type transcript struct {
	N   int64
	Sum string // SHA-256, hex
	Err error
}

// hashWriter counts and hashes what goes through it to w.
type hashWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func newHashWriter(w io.Writer) *hashWriter { return &hashWriter{w: w, h: sha256.New()} }

func (hw *hashWriter) Write(b []byte) (int, error) {
	n, err := hw.w.Write(b)
	hw.h.Write(b[:n])
	hw.n += int64(n)
	return n, err
}

func (hw *hashWriter) transcript(err error) transcript {
	return transcript{N: hw.n, Sum: fmt.Sprintf("%x", hw.h.Sum(nil)), Err: err}
}

// readHead reads a request head, up to its blank line.
func readHead(r *bufio.Reader) error {
	for total := 0; total < 64<<10; {
		line, err := r.ReadString('\n')
		total += len(line)
		if err != nil {
			return fmt.Errorf("read the request head: %w", err)
		}
		if line == "\r\n" || line == "\n" {
			return nil
		}
	}
	return errors.New("request head over 64 kB")
}

// serveAnswer runs a server on addr that reads a request head and then
// writes respond's bytes and closes; what it sent goes to the channel.
func (e *env) serveAnswer(addr string, respond func(w io.Writer) error) <-chan transcript {
	e.t.Helper()
	out := make(chan transcript, 4)
	e.serveConns(addr, nil, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if err := readHead(bufio.NewReader(c)); err != nil {
			out <- transcript{Err: err}
			return
		}
		hw := newHashWriter(c)
		out <- hw.transcript(respond(hw))
	})
	return out
}

// garbage is 64 kB of bytes that are no protocol.
func garbage(w io.Writer) error {
	b := make([]byte, 64<<10)
	newStream("garbage").Read(b)
	_, err := w.Write(b)
	return err
}

// bigHeader is a response whose one header field is 1 MiB.
func bigHeader(w io.Writer) error {
	_, err := io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Big: "+
		strings.Repeat("a", 1<<20)+"\r\nContent-Length: 2\r\n\r\nok")
	return err
}

// endlessHeader starts a response and keeps sending header fields, 1 kB
// every 5 ms, for 5 s; then the server closes.
func endlessHeader(w io.Writer) error {
	if _, err := io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"); err != nil {
		return err
	}
	value := strings.Repeat("b", 1000)
	for i, start := 0, time.Now(); time.Since(start) < 5*time.Second; i++ {
		if _, err := fmt.Fprintf(w, "X-Endless-%06d: %s\r\n", i, value); err != nil {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// serveSink runs a server on addr that records what a client sends until
// it closes.
func (e *env) serveSink(addr string) <-chan transcript {
	e.t.Helper()
	out := make(chan transcript, 4)
	e.serveConns(addr, nil, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(30 * time.Second))
		hw := newHashWriter(io.Discard)
		_, err := io.Copy(hw, c)
		out <- hw.transcript(err)
	})
	return out
}

// flipConn corrupts the next record it writes once armed: the last byte,
// which is in the record's authentication tag.
type flipConn struct {
	net.Conn
	armed atomic.Bool
}

func (f *flipConn) Write(b []byte) (int, error) {
	if len(b) > 5 && f.armed.CompareAndSwap(true, false) {
		b = bytes.Clone(b)
		b[len(b)-1] ^= 0x55
	}
	return f.Conn.Write(b)
}

// badMACResponse is what the bad-MAC server sends, in one record, after
// the request.
const badMACResponse = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nhello\n"

// serveBadMAC runs a TLS server on addr with cert that completes the
// handshake, reads a request head and answers with one application data
// record whose MAC is wrong. What it sent (the plaintext) goes to the
// channel.
func (e *env) serveBadMAC(addr string, cert tls.Certificate) <-chan transcript {
	e.t.Helper()
	out := make(chan transcript, 4)
	e.serveConns(addr, nil, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(30 * time.Second))
		fc := &flipConn{Conn: c}
		tc := tls.Server(fc, &tls.Config{Certificates: []tls.Certificate{cert}, SessionTicketsDisabled: true,
			NextProtos: []string{"http/1.1"}})
		if err := tc.Handshake(); err != nil {
			out <- transcript{Err: fmt.Errorf("handshake: %w", err)}
			return
		}
		if err := readHead(bufio.NewReader(tc)); err != nil {
			out <- transcript{Err: err}
			return
		}
		fc.armed.Store(true)
		hw := newHashWriter(tc)
		_, err := io.WriteString(hw, badMACResponse)
		out <- hw.transcript(err)
		// Wait for the client to give up (it cannot read the record).
		io.Copy(io.Discard, c)
	})
	return out
}
