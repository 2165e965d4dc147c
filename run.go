package htapod

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/internal/lineout"
	"github.com/htapod/htapod/internal/netstack"
	"github.com/htapod/htapod/internal/pick"
	"github.com/htapod/htapod/internal/relay"
	"github.com/htapod/htapod/internal/sandbox"
	"github.com/htapod/htapod/route"
	"github.com/htapod/htapod/sink/text"
)

// drainGrace is how long flows may go on after the command exited: its
// sockets were closed by the kernel, and their FINs and RSTs are on the way.
const drainGrace = 500 * time.Millisecond

// Run runs argv in a box and returns its status when it has exited and
// every report is written. err is non-nil only when htapod itself failed
// (the box could not be built); it is then a *sandbox.Error with a hint
// when one is known. Cancelling ctx kills the command.
func (r *Runner) Run(ctx context.Context, argv ...string) (Status, error) {
	if len(argv) == 0 {
		return Status{Code: 125}, errors.New("no command to run")
	}
	c := &r.cfg
	if err := c.namespaces.validate(); err != nil {
		return Status{Code: 125}, err
	}
	noMount := c.namespaces&MountNamespace == 0
	base := runBase()
	clearStaleRunDirs(base)
	runDir, err := os.MkdirTemp(base, "htapod-")
	if err != nil {
		return Status{Code: 125}, fmt.Errorf("create run directory: %w", err)
	}
	defer os.RemoveAll(runDir)
	os.WriteFile(filepath.Join(runDir, "pid"), []byte(strconv.Itoa(os.Getpid())), 0o600)

	stdout, stderr, report, mux, err := r.outputs()
	if err != nil {
		return Status{Code: 125}, err
	}
	handlers := append([]event.Handler(nil), c.handlers...)
	outputs := append([]event.Handler(nil), c.sinks...)
	if report != nil {
		ro := c.reportOp
		if ro.Highlight == nil && c.filter != nil {
			ro.Highlight = c.filter.Highlight
		}
		outputs = append(outputs, text.NewWithOptions(report, ro).Handle)
	}
	for _, o := range outputs {
		handlers = append(handlers, filtered(c.filter, o))
	}
	var gateEvents event.Handler // set below when a filter selects the capture's flows
	emit := func(e event.Event) {
		for _, h := range handlers {
			h(e)
		}
		if gateEvents != nil {
			gateEvents(e)
		}
	}

	resolver, binds, err := r.resolver(runDir, emit)
	if err != nil {
		return Status{Code: 125}, err
	}
	intercept := c.intercept
	if noMount && intercept {
		emit(&event.Notice{Time: time.Now(), Level: "warn",
			Message: "without a mount namespace the box keeps the host's CA bundles: TLS is not intercepted"})
		intercept = false
	}
	// The CA and the trust files are made while the box's init starts
	// (sandbox.Spec.Prepare): the interceptor needs only the CA.
	auth, err := r.authority(intercept)
	if err != nil {
		return Status{Code: 125}, fmt.Errorf("prepare TLS interception: %w", err)
	}
	var trust struct {
		binds []sandbox.Bind
		env   []string
		err   error
	}
	var trustWG sync.WaitGroup
	trustWG.Add(1)
	go func() {
		defer trustWG.Done()
		trust.binds, trust.env, trust.err = r.trustFiles(auth, runDir)
	}()
	defer trustWG.Wait() // before the run directory is removed
	interceptor := r.interceptor(auth)
	tcpSniff, udpSniff := r.sniffers()
	fwd := relay.New(relay.Config{
		Router:      r.router(),
		Services:    map[route.Service]relay.Service{route.DNS: resolver},
		Events:      emit,
		Name:        resolver.Name,
		TLS:         interceptor,
		Passthrough: r.passthrough(),
		Sniffers:    tcpSniff,
		SniffersUDP: udpSniff,
		Dissect:     pick.Stream(c.dissect),
		DissectUDP:  pick.Datagrams(c.dissect),
		Logger:      c.logger,
	})

	box, err := sandbox.Start(sandbox.Spec{
		Argv: argv, Env: c.env, Root: c.root,
		NoUser: c.namespaces&UserNamespace == 0, NoMount: noMount,
		UTS: c.namespaces&UTSNamespace != 0, IPC: c.namespaces&IPCNamespace != 0,
		Addr4: BoxAddr4, Addr6: BoxAddr6,
		Binds: binds,
		Prepare: func(sp *sandbox.Spec) error {
			trustWG.Wait()
			if trust.err != nil {
				return fmt.Errorf("prepare TLS interception: %w", trust.err)
			}
			sp.Env = mergeEnv(sp.Env, trust.env)
			sp.Binds = append(sp.Binds, trust.binds...)
			return nil
		},
		Stdin: c.stdin, Stdout: stdout, Stderr: stderr,
	})
	if mux != nil {
		// The box has its copies of the pipes now (or failed); ours must
		// go, so that the copy ends when the command's last writer exits.
		closeIfPipe(stdout, c.stdout)
		closeIfPipe(stderr, c.stderr)
		defer mux.Wait(drainGrace)
	}
	if err != nil {
		return Status{Code: 125}, err
	}
	defer box.Close()
	var capture netstack.Capture
	if c.pcap != nil {
		capture = c.pcap.Packet
		if c.filter != nil {
			gate := newPcapGate(c.filter, c.pcap.Packet, emit)
			capture = gate.Packet
			gateEvents = gate.Handle
		}
	}
	st, err := netstack.New(netstack.Config{
		Capture: capture,
		FD:      int(box.TUN.Fd()),
		MTU:     sandbox.DefaultMTU,
		TCP:     func(req *netstack.TCPRequest) { fwd.HandleTCP(req.Src, req.Dst, inbound{req}) },
		UDP:     func(req *netstack.UDPRequest) { fwd.HandleUDP(req.Src, req.Dst, req.Conn) },
		Logger:  c.logger,
	})
	if err != nil {
		box.Signal(os.Kill)
		box.Wait()
		return Status{Code: 125}, err
	}
	defer st.Close()
	if err := box.Go(); err != nil {
		box.Signal(os.Kill)
		box.Wait()
		return Status{Code: 125}, err
	}
	stop := context.AfterFunc(ctx, func() { box.Signal(os.Kill) })
	status, werr := box.Wait()
	if c.waitAll {
		box.WaitAll()
	}
	stop()

	dctx, cancel := context.WithTimeout(context.Background(), drainGrace)
	fwd.Drain(dctx)
	cancel()
	cctx, cancel := context.WithTimeout(context.Background(), time.Second)
	fwd.Close(cctx)
	cancel()
	return status, werr
}

// runBase is where the run directory goes: a memory file system when
// there is one ($XDG_RUNTIME_DIR, /dev/shm), else the temporary directory.
// The trust files are a few hundred small files and links written anew
// each run (up to 270 ms on a slow disk, 2 ms in memory), and a memory file
// system keeps the run's secrets off disk altogether.
func runBase() string {
	for _, d := range []string{os.Getenv("XDG_RUNTIME_DIR"), "/dev/shm"} {
		if d == "" {
			continue
		}
		if unix.Access(d, unix.W_OK|unix.X_OK) == nil {
			return d
		}
	}
	return os.TempDir()
}

// clearStaleRunDirs removes the run directories that htapod processes of
// this user left behind when they were killed (their "pid" file names a
// process that is gone): in a memory file system they would hold memory.
func clearStaleRunDirs(base string) {
	dirs, _ := filepath.Glob(filepath.Join(base, "htapod-*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "pid"))
		if err != nil {
			continue // not ours, or not a run directory
		}
		pid, err := strconv.Atoi(string(b))
		if err != nil || pid <= 0 {
			continue
		}
		if unix.Kill(pid, 0) == unix.ESRCH {
			os.RemoveAll(d)
		}
	}
}

// outputs decides the command's stdout and stderr and where report lines
// go. When the report shares a non-terminal file with the command's stdout
// or stderr, the command writes into a pipe that a lineout.Mux copies to
// that file, so report lines fall between the command's lines.
func (r *Runner) outputs() (stdout, stderr *os.File, report io.Writer, mux *lineout.Mux, err error) {
	c := &r.cfg
	stdout, stderr, report = c.stdout, c.stderr, c.report
	rf, ok := c.report.(*os.File)
	if !ok || lineout.IsTerminal(rf) {
		return stdout, stderr, report, nil, nil
	}
	shareOut, shareErr := lineout.SameFile(rf, c.stdout), lineout.SameFile(rf, c.stderr)
	if !shareOut && !shareErr {
		return stdout, stderr, report, nil, nil
	}
	mux = lineout.New(rf)
	if shareOut {
		if stdout, err = mux.Pipe(); err != nil {
			return nil, nil, nil, nil, fmt.Errorf("create output pipe: %w", err)
		}
	}
	if shareErr {
		if lineout.SameFile(c.stdout, c.stderr) && shareOut {
			stderr = stdout // one pipe keeps the command's own 2>&1 order
		} else if stderr, err = mux.Pipe(); err != nil {
			return nil, nil, nil, nil, fmt.Errorf("create output pipe: %w", err)
		}
	}
	return stdout, stderr, mux, mux, nil
}

func closeIfPipe(f, orig *os.File) {
	if f != nil && f != orig {
		f.Close()
	}
}

// mergeEnv returns env with the variables of set replacing those of the
// same name.
func mergeEnv(env, set []string) []string {
	if len(set) == 0 {
		return env
	}
	names := map[string]bool{}
	for _, kv := range set {
		k, _, _ := strings.Cut(kv, "=")
		names[k] = true
	}
	out := make([]string, 0, len(env)+len(set))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !names[k] {
			out = append(out, kv)
		}
	}
	return append(out, set...)
}

// inbound adapts a netstack TCP request to the relay's Inbound.
type inbound struct{ r *netstack.TCPRequest }

func (in inbound) Accept() (relay.Conn, error) {
	c, err := in.r.Accept()
	if err != nil {
		return nil, err
	}
	return c, nil
}
func (in inbound) Reset()                { in.r.Reset() }
func (in inbound) Unreachable(host bool) { in.r.Unreachable(host) }
func (in inbound) Drop()                 { in.r.Drop() }
