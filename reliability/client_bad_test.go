package reliability

import (
	"bytes"
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// echoMode is the flow that runs beside a misbehaving one: for -dur it
// sends 4 KiB of a deterministic stream to a full-duplex echo server every
// 20 ms and checks what comes back:
//
//	echo rounds=N bytes=N
func echoMode(fs *flag.FlagSet) func(context.Context) error {
	addr := fs.String("addr", "", "the full-duplex echo server")
	dur := fs.Duration("dur", 5*time.Second, "how long")
	return func(ctx context.Context) error {
		c, err := dial(ctx, "tcp", *addr, 10*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(*dur + 20*time.Second))
		gen := newStream("echo")
		out, in := make([]byte, 4096), make([]byte, 4096)
		rounds, total := 0, 0
		for start := time.Now(); time.Since(start) < *dur; rounds++ {
			gen.Read(out)
			if _, err := c.Write(out); err != nil {
				return fmt.Errorf("round %d: %w", rounds, err)
			}
			if _, err := io.ReadFull(c, in); err != nil {
				return fmt.Errorf("round %d: %w", rounds, err)
			}
			if !bytes.Equal(in, out) {
				return fmt.Errorf("round %d: the echo differs", rounds)
			}
			total += len(in)
			time.Sleep(20 * time.Millisecond)
		}
		if err := closeWrite(c); err != nil {
			return err
		}
		if rest, err := io.ReadAll(c); err != nil || len(rest) != 0 {
			return fmt.Errorf("after the half-close: %d bytes, %v; want EOF", len(rest), err)
		}
		fmt.Printf("echo rounds=%d bytes=%d\n", rounds, total)
		return nil
	}
}

// rawMode sends -req (Go string escapes allowed) and reads until the
// server closes:
//
//	raw recv=N sum=HEX end=OUTCOME
func rawMode(fs *flag.FlagSet) func(context.Context) error {
	addr := fs.String("addr", "", "the server")
	req := fs.String("req", `GET / HTTP/1.1\r\nHost: www.lab.test\r\n\r\n`, "what to send")
	return func(ctx context.Context) error {
		data, err := strconv.Unquote(`"` + *req + `"`)
		if err != nil {
			return fmt.Errorf("-req: %w", err)
		}
		c, err := dial(ctx, "tcp", *addr, 10*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		if dl, ok := ctx.Deadline(); ok {
			c.SetDeadline(dl)
		}
		if _, err := io.WriteString(c, data); err != nil {
			return err
		}
		h := sha256.New()
		n, err := io.Copy(h, c)
		fmt.Printf("raw recv=%d sum=%x end=%s\n", n, h.Sum(nil), outcome(err))
		return nil
	}
}

// slowlorisHead is what the slowloris client sends, a byte at a time: the
// start of a request head.
const slowlorisHead = "GET / HTTP/1.1\r\nHost: www.lab.test\r\nX-Slowloris: " +
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

// slowlorisMode sends the start of a request head a byte every -every for
// -for, and then closes; with -finish it ends the head instead and reads
// the response until the server closes:
//
//	slowloris sent=N sum=HEX [recv=N status=200]
func slowlorisMode(fs *flag.FlagSet) func(context.Context) error {
	addr := fs.String("addr", "", "the server")
	every := fs.Duration("every", 100*time.Millisecond, "between bytes")
	dur := fs.Duration("for", 3*time.Second, "how long")
	finish := fs.Bool("finish", false, "end the request head and read the response")
	return func(ctx context.Context) error {
		c, err := dial(ctx, "tcp", *addr, 10*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		if dl, ok := ctx.Deadline(); ok {
			c.SetDeadline(dl)
		}
		h := sha256.New()
		sent := 0
		for start := time.Now(); time.Since(start) < *dur && sent < len(slowlorisHead); sent++ {
			if _, err := c.Write([]byte{slowlorisHead[sent]}); err != nil {
				return fmt.Errorf("byte %d: %w", sent, err)
			}
			h.Write([]byte{slowlorisHead[sent]})
			time.Sleep(*every)
		}
		if !*finish {
			fmt.Printf("slowloris sent=%d sum=%x\n", sent, h.Sum(nil))
			return nil
		}
		end := "\r\nConnection: close\r\n\r\n"
		if _, err := io.WriteString(c, end); err != nil {
			return err
		}
		h.Write([]byte(end))
		resp, err := io.ReadAll(c)
		status := "none"
		if line, _, _ := strings.Cut(string(resp), "\r\n"); len(strings.Fields(line)) > 1 {
			status = strings.Fields(line)[1]
		}
		fmt.Printf("slowloris sent=%d sum=%x recv=%d status=%s\n", sent+len(end), h.Sum(nil), len(resp), status)
		return err
	}
}
