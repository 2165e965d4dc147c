package reliability

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"
)

// soakMode makes mixed traffic at a steady rate for -d: -rate operations a
// second, started on a ticker (each on its own goroutine, at most -par at
// once, so that a slow one does not hold up the rate), taking turns:
//
//	HTTP GET of 1 kB on a kept-alive connection
//	HTTP GET of 10 kB on a new connection
//	HTTPS GET of 2 kB (intercepted; keep-alive, HTTP/2 when offered)
//	a DNS lookup of a name that does not exist (a new name each time)
//	a UDP datagram to the echo server and its answer (a new flow each time)
//	a TCP connection to the half-close echo server
//
// and every 100th operation a 1 MiB HTTP download. Every second it prints
// the running totals, and at the end the result:
//
//	tick s=S ok=N err=N
//	fail at=SECONDS err="..."            (each of the first maxFailLines)
//	soak ok=N err=N first_err="..."
func soakMode(fs *flag.FlagSet) func(context.Context) error {
	d := fs.Duration("d", time.Minute, "how long")
	rate := fs.Int("rate", 100, "operations a second")
	par := fs.Int("par", 64, "operations at once at most")
	web := fs.String("http", "http://www.lab.test", "the HTTP server")
	webTLS := fs.String("https", "https://www.lab.test:8444", "the HTTPS server")
	echo := fs.String("echo", "203.0.113.10:7", "the TCP and UDP echo servers")
	return func(ctx context.Context) error {
		s := &soaker{web: *web, webTLS: *webTLS, echo: *echo, start: time.Now(),
			keep:  &http.Client{Timeout: 10 * time.Second},
			fresh: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
			res:   &net.Resolver{PreferGo: true}}
		sem := make(chan struct{}, *par)
		tick := time.NewTicker(time.Second / time.Duration(*rate))
		defer tick.Stop()
		sec := time.NewTicker(time.Second)
		defer sec.Stop()
		start := time.Now()
		var wg sync.WaitGroup
		for i := 0; time.Since(start) < *d; {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-sec.C:
				fmt.Printf("tick s=%d ok=%d err=%d\n", int(time.Since(start).Seconds()), s.ok.Load(), s.failed.Load())
			case <-tick.C:
				sem <- struct{}{}
				wg.Go(func() {
					defer func() { <-sem }()
					s.do(ctx, i)
				})
				i++
			}
		}
		wg.Wait()
		fmt.Printf("soak ok=%d err=%d first_err=%q\n", s.ok.Load(), s.failed.Load(), errText(s.firstErr()))
		return nil
	}
}

// A soaker holds soakMode's clients and tallies.
type soaker struct {
	web, webTLS, echo string
	keep, fresh       *http.Client
	res               *net.Resolver
	ok, failed        atomic.Int64
	start             time.Time
	mu                sync.Mutex
	first             error
}

// maxFailLines bounds the failures the soak prints one by one.
const maxFailLines = 20

func (s *soaker) firstErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first
}

// do runs operation i and counts how it went.
func (s *soaker) do(ctx context.Context, i int) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var err error
	switch {
	case i%100 == 99:
		err = s.get(ctx, s.keep, s.web+"/bytes?n=1048576", 1<<20)
	case i%6 == 0:
		err = s.get(ctx, s.keep, s.web+"/bytes?n=1000", 1000)
	case i%6 == 1:
		err = s.get(ctx, s.fresh, s.web+"/bytes?n=10000", 10000)
	case i%6 == 2:
		err = s.get(ctx, s.keep, s.webTLS+"/bytes?n=2000", 2000)
	case i%6 == 3:
		_, err = s.res.LookupHost(ctx, fmt.Sprintf("soak-%d.lab.test", i))
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			err = nil // the answer expected
		}
	case i%6 == 4:
		err = udpOnce(ctx, s.echo, i)
	default:
		err = tcpEchoOnce(ctx, s.echo, i)
	}
	if err != nil {
		err = fmt.Errorf("operation %d: %w", i, err)
		if s.failed.Add(1) <= maxFailLines {
			// When, to find it in htapod's report.
			fmt.Printf("fail at=%.3f err=%q\n", time.Since(s.start).Seconds(), err)
		}
		s.mu.Lock()
		if s.first == nil {
			s.first = err
		}
		s.mu.Unlock()
		return
	}
	s.ok.Add(1)
}

// get GETs url with c and checks the length of the body.
func (s *soaker) get(ctx context.Context, c *http.Client, url string, want int64) error {
	// How far a failed request got, and on which connection: to find it
	// in htapod's report.
	var conn atomic.Value
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn:      func(i httptrace.GotConnInfo) { conn.Store(i.Conn.LocalAddr().String()) },
		WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(true) },
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%w (connection from %v, request written: %v)", err, conn.Load(), wrote.Load())
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || n != want {
		return fmt.Errorf("GET %s: %s, %d bytes; want 200, %d bytes", url, resp.Status, n, want)
	}
	return nil
}

// udpOnce sends one datagram to the echo server from a new socket and
// waits for its echo.
func udpOnce(ctx context.Context, addr string, i int) error {
	c, err := dial(ctx, "udp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	msg := fmt.Appendf(nil, "soak datagram %d", i)
	buf := make([]byte, 256)
	for try := 0; try < 3; try++ { // UDP may drop; so does a real client's retry
		c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write(msg); err != nil {
			return err
		}
		n, err := c.Read(buf)
		if err == nil && bytes.Equal(buf[:n], msg) {
			return nil
		}
	}
	return fmt.Errorf("udp %s: no echo after 3 tries", addr)
}

// tcpEchoOnce sends a line to the half-close echo server, half-closes and
// reads it back.
func tcpEchoOnce(ctx context.Context, addr string, i int) error {
	c, err := dial(ctx, "tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	msg := fmt.Appendf(nil, "soak connection %d\n", i)
	if _, err := c.Write(msg); err != nil {
		return err
	}
	if err := closeWrite(c); err != nil {
		return err
	}
	got, err := io.ReadAll(c)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("echo %q; want %q", got, msg)
	}
	return nil
}
