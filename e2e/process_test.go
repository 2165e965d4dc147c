package e2e

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/htapod/htapod/internal/lab"
)

// TestExitStatus checks that htapod exits as its command did.
func TestExitStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	notExec := e.WriteFile("not-executable", []byte("#!/bin/sh\necho should not run\n"), 0o644)
	tests := []struct {
		name   string
		argv   []string
		want   int
		stderr string // htapod's stderr must contain this
	}{
		{"success", []string{"true"}, 0, ""},
		{"exit 7", []string{"sh", "-c", "exit 7"}, 7, ""},
		{"killed by SIGTERM", []string{"sh", "-c", "kill -TERM $$"}, 128 + int(syscall.SIGTERM), ""},
		{"killed by SIGKILL", []string{"sh", "-c", "kill -KILL $$"}, 128 + int(syscall.SIGKILL), ""},
		{"not found", []string{"nonexistent-cmd"}, 127, "not found"},
		{"not executable", []string{notExec}, 126, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.htapod(append([]string{"--"}, tt.argv...)...)
			if res.ExitCode != tt.want {
				t.Errorf("htapod -- %q: %v; want exit %d", tt.argv, res, tt.want)
			}
			if !strings.Contains(string(res.Stderr), tt.stderr) {
				t.Errorf("htapod -- %q: stderr lacks %q:\n%s", tt.argv, tt.stderr, res.Stderr)
			}
			if strings.Contains(string(res.Stdout), "should not run") {
				t.Errorf("htapod -- %q ran a file without execute permission", tt.argv)
			}
		})
	}
}

// TestSignalForwarded sends SIGTERM to htapod and expects its command to
// get it: the command's trap decides the exit status.
func TestSignalForwarded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	script := `trap 'kill $!; exit 42' TERM; sleep 30 </dev/null >/dev/null 2>&1 & echo ready; wait`
	p := e.Start(ctx, lab.RunOptions{}, e.bin, "--", "sh", "-c", script)
	if !p.Stdout.WaitFor(ctx, "ready") {
		p.Signal(syscall.SIGKILL)
		t.Fatalf("the command never started: %v", p.Wait())
	}
	sent := time.Now()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signal htapod: %v", err)
	}
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		p.Signal(syscall.SIGKILL)
		t.Fatalf("htapod did not exit within 5s of SIGTERM: %v", p.Wait())
	}
	if res := p.Wait(); res.ExitCode != 42 {
		t.Errorf("htapod after SIGTERM: %v; want exit 42 from the command's trap (after %v)", res, time.Since(sent))
	}
}

// TestIdentity checks who the command is inside: the user who ran htapod,
// without capabilities; or root of the user namespace with --root.
func TestIdentity(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	uid, gid := lab.User(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"uid", []string{"--", "id", "-u"}, strconv.Itoa(uid)},
		{"gid", []string{"--", "id", "-g"}, strconv.Itoa(gid)},
		{"no capabilities", []string{"--", "grep", "CapEff", "/proc/self/status"}, "CapEff: 0000000000000000"},
		{"--root", []string{"--root", "--", "id", "-u"}, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.htapod(tt.args...)
			got := strings.Join(strings.Fields(string(res.Stdout)), " ")
			if res.ExitCode != 0 || got != tt.want {
				t.Errorf("htapod %q: %v; want exit 0 and %q", tt.args, res, tt.want)
			}
		})
	}
}
