package htapod

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/internal/dns"
	"github.com/htapod/htapod/internal/lineout"
	"github.com/htapod/htapod/internal/netstack"
	"github.com/htapod/htapod/internal/pick"
	"github.com/htapod/htapod/internal/procs"
	"github.com/htapod/htapod/internal/relay"
	"github.com/htapod/htapod/internal/sandbox"
	"github.com/htapod/htapod/internal/tlsmitm"
	"github.com/htapod/htapod/policy"
	"github.com/htapod/htapod/route"
	"github.com/htapod/htapod/sink/pcapng"
	"github.com/htapod/htapod/sink/text"
)

// drainGrace is how long flows may go on after the command exited: its
// sockets were closed by the kernel, and their FINs and RSTs are on the way.
const drainGrace = 500 * time.Millisecond

// Run runs argv in a box and returns its status when it has exited and
// every output is complete. Cancelling ctx kills the command.
//
// err is non-nil when htapod itself failed (the box could not be built:
// status is then 125, and Hint says what to do), or when an output could
// not be completed (err then holds an *OutputError for each, and status is
// the command's).
func (r *Runner) Run(ctx context.Context, argv ...string) (Status, error) {
	if len(argv) == 0 {
		return Status{Code: 125}, errors.New("no command to run")
	}
	if err := r.cfg.namespaces.validate(); err != nil {
		return Status{Code: 125}, err
	}
	dir, err := makeRunDir()
	if err != nil {
		return Status{Code: 125}, err
	}
	defer os.RemoveAll(dir)
	ru := &run{cfg: &r.cfg, r: r, dir: dir}
	if err := ru.openOutputs(); err != nil {
		return Status{Code: 125}, errors.Join(err, ru.out.close())
	}
	ru.out.start()
	status, err := ru.run(ctx, argv)
	if cerr := ru.out.close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	return status, err
}

// run is one Run: its configuration, run directory and outputs.
type run struct {
	cfg *config
	r   *Runner
	dir string

	out            *fanout
	capture        netstack.Capture
	enf            *policy.Enforcer // the policy, or nil
	late           *boxLate         // the process finder and netstack, once they exist
	stdout, stderr *os.File
	mux            *lineout.Mux
	refused        refusals        // clients that refused the CA, for a notice at the end
	procs          *procs.Governor // WithGOMAXPROCS's, while the command runs
}

// openOutputs decides the command's standard files and attaches every
// output to the run's fan-out.
func (ru *run) openOutputs() error {
	c := ru.cfg
	ru.out = newFanout(c.filter, append(slices.Clip(c.handlers), ru.refused.observe))
	for _, s := range c.sinks {
		ru.out.add(s.name, c.redacted(s))
	}
	if c.pcap != nil {
		name := "capture " + c.pcap.Path()
		if c.filter == nil {
			ru.capture = c.pcap.Packet
			ru.out.add(name, c.pcap)
		} else {
			gate := pcapng.NewGate(c.pcap, ru.out.handle)
			ru.capture = gate.Packet
			ru.out.add(name, gate)
		}
	}
	stdout, stderr, report, mux, err := ru.r.stdio()
	if err != nil {
		return err
	}
	ru.stdout, ru.stderr, ru.mux = stdout, stderr, mux
	if report != nil {
		ro := c.reportOp
		if ro.Highlight == nil && c.filter != nil {
			ro.Highlight = c.filter.Highlight
		}
		ru.out.add("report", text.NewWithOptions(report, ro))
	}
	return nil
}

// run builds the box and its network, runs argv and waits for it.
func (ru *run) run(ctx context.Context, argv []string) (Status, error) {
	c := ru.cfg
	ru.enf, ru.late = ru.r.enforcer(ru.out.handle), &boxLate{on: !c.enforce.noProcesses}
	intercept := c.intercept
	if c.namespaces&MountNamespace == 0 && intercept {
		ru.out.handle(&event.Notice{Time: time.Now(), Level: "warn",
			Message: "without a mount namespace the box keeps the host's CA bundles: TLS is not intercepted"})
		intercept = false
	}
	// The box's init starts first: starting it (this binary again, in
	// new namespaces) is the longest step of htapod's start. The resolver,
	// the CA and the trust files are made meanwhile; the init waits for
	// them (sandbox.Spec.Prepare).
	prep := ru.startPrep(intercept)
	defer prep.wait() // before the run directory is removed
	box, err := ru.startBox(argv, prep)
	if ru.mux != nil {
		defer ru.mux.Wait(drainGrace) // the command's last lines, after the box
	}
	if err != nil {
		return Status{Code: 125}, err
	}
	defer box.Close()
	fwd := ru.relay(prep.resolver, prep.auth)
	if err := ru.late.setBox(box.Pid(), box.Diag); err != nil {
		ru.out.handle(&event.Notice{Time: time.Now(), Level: "warn", Message: "cannot find the processes behind flows: " + err.Error()})
	}
	st, err := netstack.New(netstack.Config{
		Capture: ru.capture,
		FD:      int(box.TUN.Fd()),
		MTU:     sandbox.DefaultMTU,
		VnetHdr: true,
		TCP:     func(req *netstack.TCPRequest) { fwd.HandleTCP(req.Src, req.Dst, inbound{req}) },
		UDP:     func(req *netstack.UDPRequest) { fwd.HandleUDP(req.Src, req.Dst, req.Conn) },
		Logger:  c.logger,
	})
	if err == nil {
		defer st.Close()
		ru.late.stack.Store(st)
		err = box.Go()
	}
	if err != nil {
		box.Signal(os.Kill)
		box.Wait()
		return Status{Code: 125}, err
	}
	if c.procs > 0 {
		ru.procs = procs.Start(c.procs) // stopped in wait
	}
	return ru.wait(ctx, box, fwd)
}

// relay returns the run's relay: its router, resolver, TLS interceptor,
// sniffers and dissectors.
func (ru *run) relay(resolver *dns.Resolver, auth *tlsmitm.Authority) *relay.Forwarder {
	c := ru.cfg
	tcpSniff, udpSniff := ru.r.sniffers()
	return relay.New(relay.Config{
		Router:      ru.r.router(ru.enf),
		Dial:        c.act.dialer(resolver.Name, ru.out.handle),
		Services:    map[route.Service]relay.Service{route.DNS: resolver},
		Events:      ru.out.handle,
		Name:        resolver.Name,
		TLS:         ru.r.interceptor(auth),
		Passthrough: ru.r.passthrough(),
		Sniffers:    tcpSniff,
		SniffersUDP: udpSniff,
		Dissect:     pick.Stream(c.dissect),
		DissectUDP:  pick.Datagrams(c.dissect),
		HTTP:        c.act.withHostGuard(ru.enf).httpHook(),
		Logger:      c.logger,
		Process:     ru.late.processFunc(),
		Released:    ru.late.releasedFunc(),
		RefuseUDP:   ru.late.refuseUDP,
	})
}

// prepJob makes what the box's init waits for, in the background while
// the init starts: the resolver (and its resolv.conf), the CA and the
// files that make the box trust it.
type prepJob struct {
	wg       sync.WaitGroup
	resolver *dns.Resolver
	auth     *tlsmitm.Authority
	binds    []sandbox.Bind
	env      []string
	err      error
}

func (ru *run) startPrep(intercept bool) *prepJob {
	p := &prepJob{}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.err = ru.prep(p, intercept)
	}()
	return p
}

func (ru *run) prep(p *prepJob, intercept bool) error {
	var err error
	p.resolver, p.binds, err = ru.r.resolver(ru.dir, ru.out.handle, ru.enf, ru.late)
	if err != nil {
		return runDirFull(filepath.Dir(ru.dir), err)
	}
	if p.auth, err = ru.r.authority(intercept); err != nil {
		return fmt.Errorf("prepare TLS interception: %w", err)
	}
	trustBinds, env, err := ru.r.trustFiles(p.auth, ru.dir, &ru.refused, ru.out.handle)
	if err != nil {
		return fmt.Errorf("prepare TLS interception: %w", runDirFull(filepath.Dir(ru.dir), err))
	}
	p.binds, p.env = append(p.binds, trustBinds...), env
	return nil
}

func (p *prepJob) wait() { p.wg.Wait() }

// prepare puts the resolver's and trust files in the box's spec
// (sandbox.Spec.Prepare).
func (p *prepJob) prepare(sp *sandbox.Spec) error {
	p.wg.Wait()
	if p.err != nil {
		return p.err
	}
	sp.Env = mergeEnv(sp.Env, p.env)
	sp.Binds = append(sp.Binds, p.binds...)
	return nil
}

// startBox starts the box's init; the command waits for box.Go.
func (ru *run) startBox(argv []string, prep *prepJob) (*sandbox.Box, error) {
	c := ru.cfg
	box, err := sandbox.Start(sandbox.Spec{
		Argv: argv, Env: c.env, Root: c.root,
		NoUser: c.namespaces&UserNamespace == 0, NoMount: c.namespaces&MountNamespace == 0,
		UTS: c.namespaces&UTSNamespace != 0, IPC: c.namespaces&IPCNamespace != 0,
		Addr4: BoxAddr4, Addr6: BoxAddr6, VnetHdr: true,
		Prepare: prep.prepare,
		Stdin:   c.stdin, Stdout: ru.stdout, Stderr: ru.stderr,
	})
	if ru.mux != nil {
		// The box has its copies of the pipes now (or failed); ours must
		// go, so that the copy ends when the command's last writer exits.
		closeIfPipe(ru.stdout, c.stdout)
		closeIfPipe(ru.stderr, c.stderr)
	}
	return box, err
}

// wait waits for the command (and, with WithWaitAll, what it left), then
// lets its flows drain and cuts the rest.
func (ru *run) wait(ctx context.Context, box *sandbox.Box, fwd *relay.Forwarder) (Status, error) {
	stop := context.AfterFunc(ctx, func() { box.Signal(os.Kill) })
	st, werr := box.Wait()
	if ru.procs != nil {
		// The run's end is a series of blocking system calls, each of
		// which would hold a lone P until the runtime takes it back.
		ru.procs.Stop()
	}
	status := Status{Code: st.Code, Signal: st.Signal}
	if ru.cfg.waitAll {
		box.WaitAll()
	}
	stop()
	dctx, cancel := context.WithTimeout(context.Background(), drainGrace)
	fwd.Drain(dctx)
	cancel()
	cctx, cancel := context.WithTimeout(context.Background(), time.Second)
	fwd.Close(cctx)
	cancel()
	if n := ru.refused.notice(); n != nil {
		ru.out.handle(n)
	}
	return status, werr
}

// makeRunDir creates the run's private directory, with a "pid" file that
// tells a later run whether this one is still alive.
func makeRunDir() (string, error) {
	base := runBase()
	clearStaleRunDirs(base)
	dir, err := os.MkdirTemp(base, "htapod-")
	if err != nil {
		return "", runDirFull(base, fmt.Errorf("create run directory: %w", err))
	}
	os.WriteFile(filepath.Join(dir, "pid"), []byte(strconv.Itoa(os.Getpid())), 0o600)
	return dir, nil
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

// stdio decides the command's stdout and stderr and where report lines
// go. When the report shares a non-terminal file with the command's stdout
// or stderr, the command writes into a pipe that a lineout.Mux copies to
// that file, so report lines fall between the command's lines.
func (r *Runner) stdio() (stdout, stderr *os.File, report io.Writer, mux *lineout.Mux, err error) {
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
