package reliability

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// udpRateMode sends numbered datagrams to an echo server at -rate per
// second for -dur and counts the answers, a second of grace after the
// last:
//
//	udprate sent=N recv=N lost=N dup=N send_errs=N elapsed=D
func udpRateMode(fs *flag.FlagSet) func(context.Context) error {
	addr := fs.String("addr", "", "the UDP echo server")
	rate := fs.Int("rate", 10000, "datagrams per second")
	dur := fs.Duration("dur", 3*time.Second, "how long to send")
	size := fs.Int("size", 64, "datagram size (at least 8)")
	bufSize := fs.Int("buf", 0, "socket buffer sizes; 0 keeps the system's default")
	return func(ctx context.Context) error {
		c, err := net.Dial("udp", *addr)
		if err != nil {
			return err
		}
		defer c.Close()
		uc := c.(*net.UDPConn)
		if *bufSize > 0 {
			uc.SetReadBuffer(*bufSize)
			uc.SetWriteBuffer(*bufSize)
		}
		total := int(float64(*rate) * dur.Seconds())
		got := make([]bool, total)
		var recv, dup atomic.Int64
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 64<<10)
			for {
				m, err := uc.Read(buf)
				if err != nil {
					if errors.Is(err, syscall.ECONNREFUSED) {
						continue
					}
					return
				}
				if m < 8 {
					continue
				}
				seq := binary.BigEndian.Uint64(buf[:8])
				if seq >= uint64(total) {
					continue
				}
				if got[seq] {
					dup.Add(1)
				} else {
					got[seq] = true
					recv.Add(1)
				}
			}
		}()
		msg := make([]byte, max(*size, 8))
		start := time.Now()
		sent, sendErrs := 0, 0
		for sent < total && ctx.Err() == nil {
			due := min(total, int(float64(*rate)*time.Since(start).Seconds())+1)
			for ; sent < due; sent++ {
				binary.BigEndian.PutUint64(msg, uint64(sent))
				if _, err := uc.Write(msg); err != nil {
					sendErrs++
				}
			}
			time.Sleep(200 * time.Microsecond)
		}
		elapsed := time.Since(start)
		for grace := time.Now().Add(time.Second); time.Now().Before(grace) && recv.Load() < int64(sent); {
			time.Sleep(10 * time.Millisecond)
		}
		uc.SetReadDeadline(time.Now())
		<-done
		fmt.Printf("udprate sent=%d recv=%d lost=%d dup=%d send_errs=%d elapsed=%s\n", sent, recv.Load(),
			int64(sent)-recv.Load(), dup.Load(), sendErrs, elapsed.Round(time.Millisecond))
		return nil
	}
}

// udpFlowsMode opens -n UDP sockets at once (n source ports), sends one
// request from each and waits for the answers. With -sync it prints
// "waiting" and waits for the file -sync/go first, and for -sync/exit at
// the end:
//
//	udpflows n=N answered=N wrong=N first_err="..."
//
// The request is "flow i" for an echo server, or with -dns a DNS query
// for www.lab.test A, whose answer must be 203.0.113.10.
func udpFlowsMode(fs *flag.FlagSet) func(context.Context) error {
	addr := fs.String("addr", "", "the UDP server")
	n := fs.Int("n", 1000, "flows")
	asDNS := fs.Bool("dns", false, "send DNS queries")
	wait := fs.Duration("wait", 5*time.Second, "how long to wait for the answers")
	syncDir := fs.String("sync", "", "print waiting and wait for the file go in this directory before "+
		"starting, and for the file exit before exiting")
	return func(ctx context.Context) error {
		if _, err := raiseNoFile(uint64(*n) + 64); err != nil {
			return err
		}
		if *syncDir != "" {
			fmt.Println("waiting")
			if err := waitFile(ctx, *syncDir+"/go"); err != nil {
				return err
			}
		}
		conns := make([]net.Conn, *n)
		defer func() {
			for _, c := range conns {
				if c != nil {
					c.Close()
				}
			}
		}()
		for i := range conns {
			c, err := net.Dial("udp", *addr)
			if err != nil {
				return fmt.Errorf("socket %d: %w", i, err)
			}
			conns[i] = c
		}
		request := func(i int) []byte {
			if !*asDNS {
				return fmt.Appendf(nil, "flow %d", i)
			}
			m := new(dns.Msg)
			m.SetQuestion("www.lab.test.", dns.TypeA)
			m.Id = uint16(i)
			b, _ := m.Pack()
			return b
		}
		check := func(i int, b []byte) error {
			if !*asDNS {
				if want := fmt.Sprintf("flow %d", i); string(b) != want {
					return fmt.Errorf("flow %d: answer %q", i, b)
				}
				return nil
			}
			m := new(dns.Msg)
			if err := m.Unpack(b); err != nil {
				return fmt.Errorf("flow %d: %w", i, err)
			}
			if m.Id != uint16(i) || m.Rcode != dns.RcodeSuccess || len(m.Answer) != 1 {
				return fmt.Errorf("flow %d: answer %v", i, m)
			}
			if a, ok := m.Answer[0].(*dns.A); !ok || a.A.String() != "203.0.113.10" {
				return fmt.Errorf("flow %d: answer %v", i, m.Answer[0])
			}
			return nil
		}
		for i, c := range conns {
			if _, err := c.Write(request(i)); err != nil {
				return fmt.Errorf("send %d: %w", i, err)
			}
		}
		var (
			answered, wrong atomic.Int64
			mu              sync.Mutex
			firstErr        error
			wg              sync.WaitGroup
		)
		deadline := time.Now().Add(*wait)
		for i, c := range conns {
			wg.Go(func() {
				c.SetReadDeadline(deadline)
				buf := make([]byte, 4096)
				m, err := c.Read(buf)
				if err == nil {
					err = check(i, buf[:m])
					if err != nil {
						wrong.Add(1)
					}
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				answered.Add(1)
			})
		}
		wg.Wait()
		fmt.Printf("udpflows n=%d answered=%d wrong=%d first_err=%q\n", *n, answered.Load(), wrong.Load(), errText(firstErr))
		if *syncDir != "" {
			if err := waitFile(ctx, *syncDir+"/exit"); err != nil {
				return err
			}
		}
		if answered.Load() != int64(*n) {
			return fmt.Errorf("%d of %d flows got no right answer; first: %v", int64(*n)-answered.Load(), *n, firstErr)
		}
		return nil
	}
}
