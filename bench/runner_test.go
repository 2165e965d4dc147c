package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/htapod/htapod/internal/lab"
)

// A mode is how a workload's command runs.
type mode int

const (
	// direct runs the command itself, in the lab, as the lab user.
	direct mode = iota
	// tapped runs it through htapod, as the end-to-end tests do.
	tapped
	// viaPasta runs it through pasta(1), as a reference for plain TCP,
	// where pasta is installed.
	viaPasta
	// viaSlirp runs it through slirp4netns(1), the other user-mode
	// network of rootless containers, where it is installed.
	viaSlirp
)

// references are the reference modes, in the order of the table's columns.
var references = []mode{viaPasta, viaSlirp}

func (m mode) String() string {
	switch m {
	case direct:
		return "direct"
	case tapped:
		return "htapod"
	case viaPasta:
		return "pasta"
	case viaSlirp:
		return "slirp4netns"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// A bench is one run of the benchmark: the lab, its servers and the
// binaries. It belongs to TestBench's goroutine.
type bench struct {
	t      *testing.T
	lab    *lab.Lab
	cfg    config
	htapod string // the htapod binary under test
	pasta  string // pasta's path, or "" when it is not installed
	slirp  string // the slirp4netns wrapper script (slirpScript), or ""
	pki    *lab.PKI
	site   *site

	// profile, when not empty, makes the next run through htapod record
	// a CPU profile named profile, for profileFor.
	profile    string
	profileFor time.Duration
	// profileFaults, with profile, records page faults instead of CPU
	// time, from when the workload says (see memory).
	profileFaults bool

	// notes are doubtful things about the measurements, by workload, in
	// the order noteOrder first saw them.
	notes     map[string][]string
	noteOrder []string

	// extra are htapod flags for the next runs through it (a policy).
	extra []string
}

// pastaArgs start the command line of a run through pasta (argv[0] is
// replaced by pasta's path). pasta needs an interface with a default
// route to start ("No external routable interface"): the benchmark gives
// the lab one (lab.AddUplink). Its addresses are not copied: the box's own
// address and gateway are given, from a documentation range, and are never
// a destination (the clients connect to the lab's addresses, which pasta
// reaches from the lab's namespace). No port is forwarded in either
// direction, and the gateway is not mapped to the host.
var pastaArgs = []string{"pasta", "--config-net", "--quiet", "--ipv4-only",
	"--address", "192.0.2.2", "--netmask", "24", "--gateway", "192.0.2.1", "--no-map-gw",
	"-t", "none", "-u", "none", "-T", "none", "-U", "none", "--"}

// A run is a command that start launched.
type run struct {
	proc   *lab.Proc
	mode   mode
	argv   []string
	report string        // htapod's report file, or ""
	perf   chan struct{} // closed when the profile is written, or nil
}

// runOptions are the lab's options for a run in mode m: through htapod,
// BENCH_HTAPOD_ENV's environment.
func (b *bench) runOptions(m mode) lab.RunOptions {
	if m == tapped {
		return lab.RunOptions{Env: b.cfg.htapodEnv}
	}
	return lab.RunOptions{}
}

// start launches argv in mode m inside the lab as the lab user. Through
// htapod the report goes to a file (-o), as the targets are stated for,
// and htapod trusts the lab's CA for real servers.
func (b *bench) start(ctx context.Context, m mode, argv ...string) *run {
	b.t.Helper()
	r := &run{mode: m, argv: argv}
	full := argv
	switch m {
	case tapped:
		r.report = filepath.Join(b.lab.Home(), "report.txt")
		full = append([]string{b.htapod, "-o", r.report, "--upstream-ca", b.pki.CAFile}, b.extra...)
		full = append(append(full, "--"), argv...)
	case viaPasta, viaSlirp:
		full = b.refArgv(m, argv)
	}
	r.proc = b.lab.Start(ctx, b.runOptions(m), full...)
	if m == tapped && b.profile != "" && !b.profileFaults {
		pid := r.proc.Cmd.Process.Pid
		waitExec(pid, commName(b.htapod))
		r.perf = b.record(pid, b.profile, "", b.profileFor)
		b.profile = ""
	}
	return r
}

// wait waits for r, removes htapod's report and returns an error if the
// command did not exit 0.
func (r *run) wait() (lab.Result, error) {
	res := r.proc.Wait()
	if r.perf != nil {
		<-r.perf
	}
	if r.report != "" {
		os.Remove(r.report)
	}
	if res.ExitCode != 0 || res.TimedOut {
		return res, fmt.Errorf("%s %q: %s", r.mode, r.argv, brief(res))
	}
	return res, nil
}

// exec runs argv in mode m, bounded by timeout, and returns its result; an
// exit status other than 0 is an error.
func (b *bench) exec(m mode, timeout time.Duration, argv ...string) (lab.Result, error) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return b.start(ctx, m, argv...).wait()
}

// brief describes how a command ended, with the end of its stderr.
func brief(res lab.Result) string {
	how := "exit " + strconv.Itoa(res.ExitCode)
	if res.Signal != 0 {
		how = "killed by " + res.Signal.String()
	}
	if res.TimedOut {
		how += " (timed out)"
	}
	errText := bytes.TrimSpace(res.Stderr)
	if len(errText) > 600 {
		errText = append([]byte("…"), errText[len(errText)-600:]...)
	}
	return fmt.Sprintf("%s after %v: %s", how, res.Duration.Round(time.Millisecond), errText)
}

// waitExec waits, for at most 5 seconds, until process pid runs the
// program named comm: `ip netns exec` and setpriv exec into it, and perf
// attached during those execs can miss the process it meant.
func waitExec(pid int, comm string) {
	path := "/proc/" + strconv.Itoa(pid) + "/comm"
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if b, err := os.ReadFile(path); err != nil || string(bytes.TrimSpace(b)) == comm {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// commName is the name the kernel gives a process that runs the program
// at path (/proc/PID/comm): its base name, cut to 15 bytes.
func commName(path string) string {
	name := filepath.Base(path)
	if len(name) > 15 {
		name = name[:15]
	}
	return name
}

// buildIdleClient builds ./bench/idleclient into a directory the lab user
// may enter, removed when the test ends.
func buildIdleClient(t *testing.T, root string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "htapod-bench-bin-")
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("bench: %v", err)
	}
	bin := filepath.Join(dir, "idleclient")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool(), "build", "-o", bin, "./bench/idleclient")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bench: go build ./bench/idleclient: %v\n%s", err, out)
	}
	return bin
}

// goTool finds the go command: go test puts its own first on PATH.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

// slirpScript runs its arguments as a command in a new user and network
// namespace that slirp4netns (its path replaces the verb) connects to the lab's: the
// command waits on a FIFO until slirp4netns has configured tap0 (address
// 10.0.2.100, default route via 10.0.2.2; --ready-fd), and slirp4netns,
// started by the script, is stopped by its PID when the command exits.
// slirp4netns makes the command's connections with sockets of its own in
// the lab, where the lab's addresses are local: it needs no route.
const slirpScript = `#!/bin/sh
set -eu
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkfifo "$dir/ready"
unshare --user --map-root-user --net sh -c 'read x < "$0"; exec "$@"' "$dir/ready" "$@" &
child=$!
%s --configure --mtu=65520 --disable-host-loopback --ready-fd=3 "$child" tap0 3>"$dir/ready" >/dev/null 2>&1 &
slirp=$!
status=0
wait "$child" || status=$?
kill "$slirp" 2>/dev/null || true
wait "$slirp" 2>/dev/null || true
exit "$status"
`

// findReferences looks for the reference tools: pasta, with an uplink for
// the lab, and slirp4netns, with its wrapper script in the lab user's home.
func (b *bench) findReferences() {
	if p, err := exec.LookPath("pasta"); err == nil {
		b.pasta = p
		b.lab.AddUplink()
	}
	_, uerr := exec.LookPath("unshare")
	if p, err := exec.LookPath("slirp4netns"); err == nil && uerr == nil {
		b.slirp = b.lab.WriteFile("slirp-run.sh", []byte(fmt.Sprintf(slirpScript, p)), 0o755)
	}
}

// refArgv is the command line that runs argv through the reference tool
// of mode m (viaPasta or viaSlirp).
func (b *bench) refArgv(m mode, argv []string) []string {
	if m == viaSlirp {
		return append([]string{b.slirp}, argv...)
	}
	full := append(slices.Clone(pastaArgs), argv...)
	full[0] = b.pasta
	return full
}

// refModes are the reference modes whose tool is installed.
func (b *bench) refModes() []mode {
	var out []mode
	if b.pasta != "" {
		out = append(out, viaPasta)
	}
	if b.slirp != "" {
		out = append(out, viaSlirp)
	}
	return out
}
