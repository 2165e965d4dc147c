package reliability

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// clientName is the name under which this test binary acts as the client
// that runs inside htapod's box (and directly, for the baselines):
//
//	relclient MODE [flags]
//
// Each mode prints its result as one line "MODE key=value ..." on stdout,
// says what went wrong on stderr, and exits 0 on success, 1 on a failure,
// 2 on bad usage and 124 when its -limit passed. The modes are the
// clientModes below.
const clientName = "relclient"

// A clientMode registers its flags and returns the function that runs it.
type clientMode func(fs *flag.FlagSet) func(ctx context.Context) error

var clientModes = map[string]clientMode{
	"stream":    streamMode,
	"conns":     connsMode,
	"churn":     churnMode,
	"states":    statesMode,
	"udprate":   udpRateMode,
	"udpflows":  udpFlowsMode,
	"dns":       dnsMode,
	"http":      httpMode,
	"bg":        bgMode,
	"echo":      echoMode,
	"raw":       rawMode,
	"slowloris": slowlorisMode,
	"fault":     faultMode,
	"lookup":    lookupMode,
	"soak":      soakMode,
}

// clientMain is main of relclient.
func clientMain(args []string) int {
	if len(args) == 0 || clientModes[args[0]] == nil {
		fmt.Fprintf(os.Stderr, "usage: %s MODE [flags]; modes: %s\n", clientName, strings.Join(slices.Sorted(mapKeys(clientModes)), ", "))
		return 2
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	limit := fs.Duration("limit", time.Minute, "give up after this long")
	run := clientModes[args[0]](fs)
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	// Every client ends by itself, whatever happens to the network.
	time.AfterFunc(*limit, func() {
		fmt.Fprintf(os.Stderr, "%s %s: time limit %v reached\n", clientName, args[0], *limit)
		os.Exit(124)
	})
	ctx, cancel := context.WithTimeout(context.Background(), *limit)
	defer cancel()
	if err := run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "%s %s: %v\n", clientName, args[0], err)
		return 1
	}
	return 0
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// newStream returns the deterministic byte stream named seed: ChaCha8
// keyed by the seed's SHA-256, the same on both ends.
func newStream(seed string) io.Reader {
	return rand.NewChaCha8(sha256.Sum256([]byte(seed)))
}

// writeStream writes n bytes of the stream seed to w, hashing them into h.
func writeStream(w io.Writer, h io.Writer, seed string, n int64) (int64, error) {
	gen := newStream(seed)
	buf := make([]byte, 256<<10)
	var done int64
	for done < n {
		b := buf[:min(int64(len(buf)), n-done)]
		gen.Read(b)
		h.Write(b)
		m, err := w.Write(b)
		done += int64(m)
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// closeWrite shuts down the sending side of c: a FIN, or TLS's
// close_notify.
func closeWrite(c net.Conn) error {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return fmt.Errorf("%T cannot half-close", c)
}

// outcome names how a network operation ended, the same way with and
// without htapod: ok, eof, reset, refused, timeout, unreachable or error.
func outcome(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "unreachable"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "error"
}

// raiseNoFile makes room for need open files: the soft RLIMIT_NOFILE is
// raised towards the hard one. It returns the limits in force.
func raiseNoFile(need uint64) (syscall.Rlimit, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return rl, fmt.Errorf("getrlimit: %w", err)
	}
	if rl.Cur < need {
		rl.Cur = min(need, rl.Max)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return rl, fmt.Errorf("setrlimit nofile %d: %w", rl.Cur, err)
		}
	}
	if rl.Cur < need {
		return rl, fmt.Errorf("the hard limit of open files is %d; %d are needed", rl.Max, need)
	}
	return rl, nil
}

// waitFile waits until path exists: the test's signal to go on.
func waitFile(ctx context.Context, path string) error {
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", path, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// dialer dials with a bound of its own, within ctx.
func dial(ctx context.Context, network, addr string, d time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

// streamMode sends or receives -n bytes of a deterministic stream to the
// stream server (servers_test.go) and prints their SHA-256:
//
//	stream dir=up n=N sum=HEX server_n=N server_sum=HEX
//	stream dir=down n=N sum=HEX
func streamMode(fs *flag.FlagSet) func(context.Context) error {
	addr := fs.String("addr", "", "the stream server")
	dir := fs.String("dir", "up", "up or down")
	n := fs.Int64("n", 1<<20, "bytes")
	seed := fs.String("seed", "reliability", "the stream's name")
	useTLS := fs.Bool("tls", false, "speak TLS (trusting the system's roots, or -ca)")
	sni := fs.String("sni", "www.lab.test", "the TLS server name")
	ca := fs.String("ca", "", "a PEM file of CA certificates to trust instead of the system's")
	return func(ctx context.Context) error {
		c, err := dial(ctx, "tcp", *addr, 30*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		if dl, ok := ctx.Deadline(); ok {
			c.SetDeadline(dl)
		}
		if *useTLS {
			cfg := &tls.Config{ServerName: *sni}
			if *ca != "" {
				pem, err := os.ReadFile(*ca)
				if err != nil {
					return err
				}
				cfg.RootCAs = x509.NewCertPool()
				cfg.RootCAs.AppendCertsFromPEM(pem)
			}
			tc := tls.Client(c, cfg)
			if err := tc.HandshakeContext(ctx); err != nil {
				return fmt.Errorf("TLS handshake: %w", err)
			}
			c = tc
		}
		if _, err := fmt.Fprintf(c, "%s %d %s\n", strings.ToUpper(*dir), *n, *seed); err != nil {
			return err
		}
		h := sha256.New()
		switch *dir {
		case "up":
			sent, err := writeStream(c, h, *seed, *n)
			if err != nil {
				return fmt.Errorf("after %d bytes up: %w", sent, err)
			}
			if err := closeWrite(c); err != nil {
				return fmt.Errorf("half-close: %w", err)
			}
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				return fmt.Errorf("read the server's sum: %w", err)
			}
			var sn int64
			var ssum string
			if _, err := fmt.Sscanf(line, "%d %s", &sn, &ssum); err != nil {
				return fmt.Errorf("server said %q: %w", line, err)
			}
			sum := fmt.Sprintf("%x", h.Sum(nil))
			fmt.Printf("stream dir=up n=%d sum=%s server_n=%d server_sum=%s\n", sent, sum, sn, ssum)
			if sn != sent || ssum != sum {
				return errors.New("the server received other bytes than were sent")
			}
		case "down":
			got, err := io.Copy(h, c)
			fmt.Printf("stream dir=down n=%d sum=%x\n", got, h.Sum(nil))
			if err != nil {
				return fmt.Errorf("after %d bytes down: %w", got, err)
			}
			if got != *n {
				return fmt.Errorf("received %d bytes; want %d", got, *n)
			}
		default:
			return fmt.Errorf("-dir %q: want up or down", *dir)
		}
		return nil
	}
}

// requestResponse does one "REQ i" / "RESP i" exchange on c.
func requestResponse(c net.Conn, r *bufio.Reader, i int) error {
	if _, err := fmt.Fprintf(c, "REQ %d\n", i); err != nil {
		return err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if want := fmt.Sprintf("RESP %d\n", i); line != want {
		return fmt.Errorf("response %q; want %q", line, want)
	}
	return nil
}

// connsMode opens -n connections to the request/response server, all of
// them before any is used, then does one exchange on each and closes them
// (with -graceful, as a careful client does: its FIN, then the server's
// awaited, so that every connection has ended both ways before the
// client exits; a connection whose close failed counts as failed):
//
//	opened n=N                         when all are open
//	conns n=N opened=N ok=N failed=N nofile=SOFT/HARD first_err="..."
func connsMode(fs *flag.FlagSet) func(context.Context) error {
	addr := fs.String("addr", "", "the request/response server")
	n := fs.Int("n", 2000, "connections")
	par := fs.Int("par", 100, "dials at a time")
	graceful := fs.Bool("graceful", false, "half-close each connection and wait for the server's FIN")
	return func(ctx context.Context) error {
		rl, err := raiseNoFile(uint64(*n) + 64)
		if err != nil {
			return err
		}
		conns := make([]net.Conn, *n)
		var (
			mu       sync.Mutex
			firstErr error
			failed   atomic.Int64
		)
		fail := func(err error) {
			failed.Add(1)
			mu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}
		sem := make(chan struct{}, *par)
		var wg sync.WaitGroup
		for i := range conns {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				c, err := dial(ctx, "tcp", *addr, 30*time.Second)
				if err != nil {
					fail(fmt.Errorf("dial %d: %w", i, err))
					return
				}
				conns[i] = c
			})
		}
		wg.Wait()
		opened := 0
		for _, c := range conns {
			if c != nil {
				opened++
			}
		}
		fmt.Printf("opened n=%d\n", opened)
		var ok atomic.Int64
		for i, c := range conns {
			if c == nil {
				continue
			}
			wg.Go(func() {
				c.SetDeadline(time.Now().Add(30 * time.Second))
				if err := requestResponse(c, bufio.NewReader(c), i); err != nil {
					fail(fmt.Errorf("exchange %d: %w", i, err))
					conns[i] = nil
					c.Close()
					return
				}
				ok.Add(1)
			})
		}
		wg.Wait()
		if *graceful { // every exchange before any close: all were open at once
			for i, c := range conns {
				if c == nil {
					continue
				}
				wg.Go(func() {
					if err := closeGracefully(c); err != nil {
						ok.Add(-1)
						fail(fmt.Errorf("close %d: %w", i, err))
					}
				})
			}
			wg.Wait()
		}
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
		fmt.Printf("conns n=%d opened=%d ok=%d failed=%d nofile=%d/%d first_err=%q\n",
			*n, opened, ok.Load(), failed.Load(), rl.Cur, rl.Max, errText(firstErr))
		if ok.Load() != int64(*n) {
			return fmt.Errorf("%d of %d connections failed; first: %v", int64(*n)-ok.Load(), *n, firstErr)
		}
		return nil
	}
}

// closeGracefully half-closes c and waits for the server's FIN (nothing
// else may come), within c's deadline.
func closeGracefully(c net.Conn) error {
	if err := closeWrite(c); err != nil {
		return err
	}
	var b [1]byte
	n, err := c.Read(b[:])
	switch {
	case n > 0:
		return fmt.Errorf("%d unexpected bytes after the exchange", n)
	case errors.Is(err, io.EOF):
		return nil
	}
	return fmt.Errorf("waiting for the server's FIN: %w", err)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// churnMode does -warm short connections, prints "churn warm=ok", waits
// for the file -sync/go, does -n short connections one after another, one
// exchange each, prints the result and waits for -sync/exit:
//
//	churn n=N ok=N failed=N elapsed=D first_err="..."
func churnMode(fs *flag.FlagSet) func(context.Context) error {
	addr := fs.String("addr", "", "the request/response server")
	n := fs.Int("n", 5000, "connections")
	warm := fs.Int("warm", 20, "connections before the measured ones")
	syncDir := fs.String("sync", "", "the directory of the go and exit files")
	return func(ctx context.Context) error {
		one := func(i int) error {
			c, err := dial(ctx, "tcp", *addr, 10*time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			return requestResponse(c, bufio.NewReader(c), i)
		}
		for i := range *warm {
			if err := one(i); err != nil {
				return fmt.Errorf("warm-up %d: %w", i, err)
			}
		}
		fmt.Println("churn warm=ok")
		if err := waitFile(ctx, *syncDir+"/go"); err != nil {
			return err
		}
		start := time.Now()
		var ok, failed int
		var firstErr error
		for i := range *n {
			if ctx.Err() != nil {
				break
			}
			if err := one(i); err != nil {
				failed++
				if firstErr == nil {
					firstErr = fmt.Errorf("connection %d: %w", i, err)
				}
				continue
			}
			ok++
		}
		fmt.Printf("churn n=%d ok=%d failed=%d elapsed=%s first_err=%q\n", *n, ok, failed,
			time.Since(start).Round(time.Millisecond), errText(firstErr))
		if err := waitFile(ctx, *syncDir+"/exit"); err != nil {
			return err
		}
		if ok != *n {
			return fmt.Errorf("%d of %d connections failed; first: %v", *n-ok, *n, firstErr)
		}
		return nil
	}
}
