package reliability

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/htapod/htapod/internal/lab"
)

// longFlag turns on the checks that take minutes; HTAPOD_LONG=1 does too.
var longFlag = flag.Bool("long", false, "run the long reliability checks (1 GiB transfers, "+
	"20,000 connections, the 60 s UDP idle timeout); HTAPOD_LONG=1 does the same")

// long reports whether the long checks run.
func long() bool { return *longFlag || os.Getenv("HTAPOD_LONG") == "1" }

// scale returns quick in the quick suite and full with -long.
func scale[T any](quick, full T) T {
	if long() {
		return full
	}
	return quick
}

func TestMain(m *testing.M) {
	// Inside htapod's box this binary is the client (client_test.go).
	if filepath.Base(os.Args[0]) == clientName {
		os.Exit(clientMain(os.Args[1:]))
	}
	lab.Main(m)
}

// pprofAddr is where htapod serves its goroutine count and profiles
// (HTAPOD_PPROF): loopback of the lab's namespace, where htapod's parent
// process runs. Each test has a lab of its own, so one port serves all.
const pprofAddr = "127.0.0.1:6061"

// An env is one test's lab with the lab's usual servers, the htapod binary
// under test and the client linked into the lab user's home.
type env struct {
	*lab.Lab
	t      *testing.T
	bin    string // htapod
	client string // relclient, executable by the lab user
}

// newEnv makes a lab for t, or skips t when the machine cannot host one.
func newEnv(t *testing.T) *env {
	t.Helper()
	l := lab.New(t)
	l.StartServers()
	return &env{Lab: l, t: t, bin: lab.Htapod(t), client: installClient(t, l)}
}

// installClient puts this test binary into the lab user's home under the
// name relclient: a hard link when the binary is on the same file system
// and anyone may execute it, a copy otherwise. Teardown removes it with the
// home directory.
func installClient(t *testing.T, l *lab.Lab) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("find the test binary: %v", err)
	}
	dst := filepath.Join(l.Home(), clientName)
	if fi, err := os.Stat(exe); err == nil && fi.Mode().Perm()&0o005 == 0o005 {
		if os.Link(exe, dst) == nil {
			return dst
		}
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatalf("read the test binary: %v", err)
	}
	return l.WriteFile(clientName, data, 0o755)
}

// tap starts `htapod flags... -- argv...` in the lab as the lab user, with
// HTAPOD_PPROF set so that usage can ask for its goroutines. The process
// is killed when ctx ends or the test does.
func (e *env) tap(ctx context.Context, opts lab.RunOptions, flags []string, argv ...string) *lab.Proc {
	e.t.Helper()
	opts.Env = append(opts.Env, "HTAPOD_PPROF="+pprofAddr)
	args := append([]string{e.bin}, flags...)
	args = append(args, "--")
	return e.Start(ctx, opts, append(args, argv...)...)
}

// runTap is tap that waits for htapod to end, failing the test if it does
// not end within d.
func (e *env) runTap(d time.Duration, opts lab.RunOptions, flags []string, argv ...string) lab.Result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	res := e.tap(ctx, opts, flags, argv...).Wait()
	if res.TimedOut {
		e.t.Fatalf("htapod %q -- %q did not end within %v: %v", flags, argv, d, res)
	}
	return res
}

// runDirect runs argv in the lab as the lab user, without htapod: the
// baseline. It fails the test if argv does not end within d.
func (e *env) runDirect(d time.Duration, opts lab.RunOptions, argv ...string) lab.Result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	res := e.Run(ctx, opts, argv...)
	if res.TimedOut {
		e.t.Fatalf("%q did not end within %v: %v", argv, d, res)
	}
	return res
}

// path returns the path of name in the lab user's home.
func (e *env) path(name string) string { return filepath.Join(e.Home(), name) }

// touch creates the empty file name in the lab user's home: the signal
// for a client that waits for it (waitFile).
func (e *env) touch(name string) { e.WriteFile(name, nil, 0o644) }

// waitOut waits until p's stdout holds s, failing the test (after killing
// p) if p ends first or d passes.
func waitOut(t *testing.T, p *lab.Proc, s string, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	go func() {
		select {
		case <-p.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	if !p.Stdout.WaitFor(ctx, s) {
		p.Signal(os.Kill)
		t.Fatalf("no %q on the client's stdout within %v: %v", s, d, p.Wait())
	}
}

// A usage is what htapod's process holds at one moment.
type usage struct {
	FDs, Goroutines int
}

func (u usage) String() string { return fmt.Sprintf("%d fds, %d goroutines", u.FDs, u.Goroutines) }

// usage reads htapod's open file descriptors (/proc/PID/fd of the process
// tap started: `ip netns exec` and setpriv exec, so its PID is htapod's)
// and its goroutine count (HTAPOD_PPROF's /debug/goroutines).
func (e *env) usage(p *lab.Proc) (usage, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.Cmd.Process.Pid))
	if err != nil {
		return usage{}, fmt.Errorf("htapod's fds: %w", err)
	}
	n, err := e.goroutines()
	if err != nil {
		return usage{}, err
	}
	return usage{FDs: len(fds), Goroutines: n}, nil
}

// goroutines asks htapod's debug server for its goroutine count, over a
// connection made inside the lab and closed at once.
func (e *env) goroutines() (int, error) {
	client := &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			DialContext:       func(_ context.Context, network, addr string) (net.Conn, error) { return e.Dial(network, addr) },
			DisableKeepAlives: true,
		},
	}
	defer client.CloseIdleConnections()
	resp, err := client.Get("http://" + pprofAddr + "/debug/goroutines")
	if err != nil {
		return 0, fmt.Errorf("htapod's goroutines: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 100))
	if err != nil {
		return 0, fmt.Errorf("htapod's goroutines: %w", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(body)))
	if err != nil {
		return 0, fmt.Errorf("htapod's goroutines: %q: %w", body, err)
	}
	return n, nil
}

// waitUsage waits until htapod answers on HTAPOD_PPROF and returns its
// usage then; it fails the test after d.
func (e *env) waitUsage(p *lab.Proc, d time.Duration) usage {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for {
		u, err := e.usage(p)
		if err == nil {
			return u
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("htapod's usage: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// settle samples htapod's usage every 250 ms until both counts are at most
// base plus slack, or d has passed, and returns the last sample and
// whether it came back.
func (e *env) settle(p *lab.Proc, base, slack usage, d time.Duration) (usage, bool) {
	e.t.Helper()
	deadline := time.Now().Add(d)
	var last usage
	for {
		u, err := e.usage(p)
		if err != nil {
			e.t.Fatalf("htapod's usage: %v", err)
		}
		last = u
		if u.FDs <= base.FDs+slack.FDs && u.Goroutines <= base.Goroutines+slack.Goroutines {
			return u, true
		}
		if time.Now().After(deadline) {
			return last, false
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// fields parses the "key=value" words of the last line of out whose first
// word is prefix (the client's result lines), or returns nil.
func fields(out []byte, prefix string) map[string]string {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var m map[string]string
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != prefix && !strings.HasPrefix(line, prefix+" ") {
			continue
		}
		m = map[string]string{}
		for rest := strings.TrimSpace(line[len(prefix):]); rest != ""; rest = strings.TrimSpace(rest) {
			word, after, _ := strings.Cut(rest, " ")
			k, v, ok := strings.Cut(word, "=")
			if !ok {
				rest = after // a word that is not key=value
				continue
			}
			// A quoted value (an error's text, %q) may hold blanks: it
			// ends where its quoting does.
			if q, err := strconv.QuotedPrefix(rest[len(k)+1:]); err == nil {
				v, _ = strconv.Unquote(q)
				after = rest[len(k)+1+len(q):]
			}
			m[k], rest = v, after
		}
	}
	return m
}

// wantFields returns the result line prefix of out, failing the test when
// the client printed none.
func wantFields(t *testing.T, res lab.Result, prefix string) map[string]string {
	t.Helper()
	f := fields(res.Stdout, prefix)
	if f == nil {
		t.Fatalf("the client printed no %q line: %v", prefix, res)
	}
	return f
}

// atoi is strconv.Atoi for the client's numbers, -1 when it is not one.
func atoi(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// An jsonEvent is one line of htapod's --json output, decoded loosely.
type jsonEvent map[string]any

func (e jsonEvent) str(k string) string {
	s, _ := e[k].(string)
	return s
}

func (e jsonEvent) num(k string) float64 {
	n, _ := e[k].(float64)
	return n
}

// readJSONLines reads htapod's --json file: every line must be a whole
// JSON object that a Go decoder reads without error, and the file must end
// with a newline (no cut line).
func readJSONLines(path string) ([]jsonEvent, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		return nil, fmt.Errorf("%s does not end with a newline: the last line is cut: %.200q", path, lastLine(data))
	}
	var evs []jsonEvent
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if len(data) == 0 {
			break
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		var ev jsonEvent
		if err := dec.Decode(&ev); err != nil {
			return nil, fmt.Errorf("%s line %d: %w: %.200q", path, i+1, err, line)
		}
		if dec.More() {
			return nil, fmt.Errorf("%s line %d: more than one JSON value: %.200q", path, i+1, line)
		}
		if ev.str("type") == "" {
			return nil, fmt.Errorf("%s line %d: no type: %.200q", path, i+1, line)
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

func lastLine(data []byte) []byte {
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		return data[i+1:]
	}
	return data
}

// flowsTo returns the flow events of proto to dst.
func flowsTo(evs []jsonEvent, proto, dst string) []jsonEvent {
	var out []jsonEvent
	for _, ev := range evs {
		if ev.str("type") == "flow" && ev.str("proto") == proto && ev.str("dst") == dst {
			out = append(out, ev)
		}
	}
	return out
}

// endings counts flow events by how they ended.
func endings(flows []jsonEvent) map[string]int {
	m := map[string]int{}
	for _, f := range flows {
		m[f.str("ended")]++
	}
	return m
}

// itoa is strconv.Itoa.
func itoa(n int) string { return strconv.Itoa(n) }
