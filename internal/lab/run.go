package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RunOptions says how Run and Start launch a command. The zero value runs it
// as the unprivileged user, with stdin at EOF, in Home.
type RunOptions struct {
	// Root runs the command as root instead of UserName: the baseline
	// for "does it behave the same without htapod", or a test of what
	// root sees. htapod itself is never meant to be run this way.
	Root bool
	// Stdin is fed to the command's standard input; nil means /dev/null.
	Stdin []byte
	// Env holds extra "KEY=value" entries, added after the base
	// environment (PATH, HOME, USER, LOGNAME, LANG), so they win.
	Env []string
	// Dir is the working directory; empty means Home.
	Dir string
}

// A Result is how a command ended and what it printed.
type Result struct {
	Stdout, Stderr []byte
	// ExitCode is the exit status, or -1 if the command was killed by a
	// signal (then Signal says which) or could not be waited for.
	ExitCode int
	// Signal is the signal that killed the command, or 0.
	Signal syscall.Signal
	// TimedOut is set when the context ended first and the command was
	// killed because of it.
	TimedOut bool
	// Duration is the time from start to exit.
	Duration time.Duration
}

// String describes r for a failure message.
func (r Result) String() string {
	how := "exit " + strconv.Itoa(r.ExitCode)
	if r.Signal != 0 {
		how = "killed by " + r.Signal.String()
	}
	if r.TimedOut {
		how += " (timed out)"
	}
	return fmt.Sprintf("%s after %v\n--- stdout:\n%s\n--- stderr:\n%s", how,
		r.Duration.Round(time.Millisecond), r.Stdout, r.Stderr)
}

// Run runs argv inside the lab (see Start) and waits for it. When ctx ends
// first, the command is killed by its PID and Result.TimedOut is set. It
// fails the test only if the command cannot be started at all.
func (l *Lab) Run(ctx context.Context, opts RunOptions, argv ...string) Result {
	l.tb.Helper()
	return l.Start(ctx, opts, argv...).Wait()
}

// A Proc is a command that Start launched. Its methods are safe for
// concurrent use.
type Proc struct {
	// Cmd is the started command. Cmd.Process.Pid is the PID of argv[0]
	// itself: `ip netns exec` and setpriv both exec, they do not fork.
	Cmd *exec.Cmd
	// Stdout and Stderr collect what the command prints, while it runs.
	Stdout, Stderr *Buffer

	ctx   context.Context
	start time.Time
	done  chan struct{}
	res   Result
}

// Start launches argv in the lab's network namespace, with the lab's
// /etc/resolv.conf and /etc/hosts mounted by `ip netns exec`, as the
// unprivileged user (setpriv --reuid --regid --init-groups) unless
// opts.Root. The environment is made afresh: PATH keeps the test's entries
// that every user may enter (so /root/... is dropped and Debian's
// /usr/bin/python3 is found), HOME is Home. The command is killed when ctx
// ends, and at the latest when the test ends.
func (l *Lab) Start(ctx context.Context, opts RunOptions, argv ...string) *Proc {
	l.tb.Helper()
	if len(argv) == 0 {
		l.tb.Fatalf("lab: Start without a command")
	}
	user, home := "root", l.Home()
	args := []string{"netns", "exec", l.name}
	if !opts.Root {
		uid, gid := User(l.tb)
		user = UserName
		args = append(args, "setpriv", "--reuid="+strconv.Itoa(uid), "--regid="+strconv.Itoa(gid),
			"--init-groups", "--")
	}
	args = append(args, argv...)

	p := &Proc{Stdout: new(Buffer), Stderr: new(Buffer), ctx: ctx, done: make(chan struct{})}
	cmd := exec.CommandContext(ctx, "ip", args...)
	cmd.Env = append([]string{
		"PATH=" + userPath(os.Getenv("PATH")),
		"HOME=" + home,
		"USER=" + user,
		"LOGNAME=" + user,
		"LANG=C.UTF-8",
	}, opts.Env...)
	cmd.Dir = opts.Dir
	if cmd.Dir == "" {
		cmd.Dir = home
	}
	if opts.Stdin != nil {
		cmd.Stdin = bytes.NewReader(opts.Stdin)
	}
	cmd.Stdout, cmd.Stderr = p.Stdout, p.Stderr
	// A grandchild that keeps our pipes open must not hang Wait.
	cmd.WaitDelay = 5 * time.Second
	p.Cmd = cmd

	p.start = time.Now()
	if err := cmd.Start(); err != nil {
		l.tb.Fatalf("lab: start %q: %v", argv, err)
	}
	go p.wait()
	l.tb.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait is the goroutine that reaps the command and fills in the result.
func (p *Proc) wait() {
	defer close(p.done)
	err := p.Cmd.Wait()
	p.res.Duration = time.Since(p.start)
	p.res.ExitCode = -1
	if st := p.Cmd.ProcessState; st != nil {
		if ws, ok := st.Sys().(syscall.WaitStatus); ok {
			if ws.Signaled() {
				p.res.Signal = ws.Signal()
			} else {
				p.res.ExitCode = ws.ExitStatus()
			}
		}
	}
	p.res.TimedOut = p.ctx.Err() != nil && err != nil
	p.res.Stdout = p.Stdout.Bytes()
	p.res.Stderr = p.Stderr.Bytes()
}

// Wait waits for the command to end and returns how it ended. It may be
// called any number of times.
func (p *Proc) Wait() Result {
	<-p.done
	return p.res
}

// Done is closed when the command has ended and Wait would not block.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Signal sends sig to the command, by its PID. It does nothing once the
// command has been reaped, so it never hits a recycled PID.
func (p *Proc) Signal(sig os.Signal) error {
	select {
	case <-p.done:
		return os.ErrProcessDone
	default:
		return p.Cmd.Process.Signal(sig)
	}
}

// standardPath is always part of the commands' PATH.
var standardPath = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// userPath returns the entries of path that every user can search, followed
// by those of standardPath that are missing.
func userPath(path string) string {
	var keep []string
	seen := map[string]bool{}
	add := func(dir string) {
		if !seen[dir] && filepath.IsAbs(dir) && searchableByAll(dir) {
			seen[dir] = true
			keep = append(keep, dir)
		}
	}
	for _, dir := range filepath.SplitList(path) {
		add(dir)
	}
	for _, dir := range standardPath {
		add(dir)
	}
	return strings.Join(keep, ":")
}

// searchableByAll reports whether dir and all its parents exist and have
// the execute bit for others.
func searchableByAll(dir string) bool {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == "/" {
			return true
		}
	}
}
