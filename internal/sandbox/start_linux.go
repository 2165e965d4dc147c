package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// Box is a started box whose command has not run yet (until Go) or is
// running. Its methods are not safe for concurrent use, except Signal.
type Box struct {
	// TUN is the device's fd, in this process. The caller owns it.
	TUN *os.File
	// Diag is a NETLINK_SOCK_DIAG socket opened inside the box's network
	// namespace (which htapod cannot enter): it finds a flow's socket by
	// its 4-tuple. nil when the box could not open one. Close closes it.
	Diag *os.File

	cmd  *exec.Cmd
	sock *os.File
	tty  int // the terminal given to the command as foreground, or -1
	// sigs receives the signals htapod forwards, from before the box
	// starts: a signal that arrives while the command starts is held and
	// forwarded, instead of killing htapod and leaving the command behind.
	sigs chan os.Signal
	// ns names the box's network namespace, for WaitAll.
	ns string
	// persistent: the TUN goes with the namespace, not with its last fd.
	persistent bool
}

// Start creates the box and returns when it is ready: the TUN fd has
// arrived and the command waits for Go. On failure the error explains what
// went wrong and how to fix it (see Hint).
func Start(spec Spec) (*Box, error) {
	if len(spec.Argv) == 0 {
		return nil, errors.New("start box: no command")
	}
	if spec.TUNName == "" {
		spec.TUNName = "htapod0"
	}
	if spec.MTU == 0 {
		spec.MTU = DefaultMTU
	}
	if !spec.Addr4.Is4() {
		return nil, errors.New("start box: no IPv4 address for the box")
	}
	parent, child, err := socketpair()
	if err != nil {
		return nil, err
	}
	defer child.Close()
	self, err := os.Executable()
	if err != nil {
		parent.Close()
		return nil, fmt.Errorf("find own binary: %w", err)
	}
	cmd := exec.Command(self)
	cmd.Args = []string{"htapod-init"}
	cmd.Env = append(os.Environ(), envChild+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = spec.Stdin, spec.Stdout, spec.Stderr
	cmd.ExtraFiles = []*os.File{child}
	if spec.NoUser && os.Geteuid() != 0 {
		parent.Close()
		return nil, &Error{Step: "create namespaces", Err: errors.New("without a user namespace htapod must run as root"),
			Hint: "Keep the user namespace (the default), or run htapod as root."}
	}
	cmd.SysProcAttr = sysProcAttr(spec)
	b := &Box{cmd: cmd, sock: parent, tty: -1, sigs: make(chan os.Signal, 16)}
	signal.Notify(b.sigs, forwarded...)
	if tty, ok := foregroundTTY(spec.Stdin); ok {
		cmd.SysProcAttr.Foreground = true
		cmd.SysProcAttr.Ctty = tty
		b.tty = tty
	}
	if err := cmd.Start(); err != nil {
		signal.Stop(b.sigs)
		parent.Close()
		return nil, &Error{Step: "create namespaces", Err: err, Hint: userNSHint(err)}
	}
	child.Close()
	if spec.Prepare != nil {
		if err := spec.Prepare(&spec); err != nil {
			b.kill()
			return nil, err
		}
	}
	if err := b.handshake(spec); err != nil {
		b.kill()
		return nil, err
	}
	return b, nil
}

// sysProcAttr maps the invoking user to itself (or to root with root) in a
// new user namespace. Unless root, the init gets CAP_NET_ADMIN and
// CAP_SYS_ADMIN as ambient capabilities: they survive its exec as a
// non-root uid, and it drops them before it execs the command.
func sysProcAttr(spec Spec) *syscall.SysProcAttr {
	flags := uintptr(syscall.CLONE_NEWNET)
	if !spec.NoMount {
		flags |= syscall.CLONE_NEWNS
	}
	if spec.UTS {
		flags |= syscall.CLONE_NEWUTS
	}
	if spec.IPC {
		flags |= syscall.CLONE_NEWIPC
	}
	if spec.NoUser {
		// Root: the box shares the host's users; the command runs as root.
		return &syscall.SysProcAttr{Cloneflags: flags, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	}
	root := spec.Root
	uid, gid := os.Getuid(), os.Getgid()
	inUID, inGID := uid, gid
	var ambient []uintptr
	if root {
		inUID, inGID = 0, 0
	} else {
		ambient = []uintptr{unix.CAP_NET_ADMIN, unix.CAP_SYS_ADMIN}
	}
	return &syscall.SysProcAttr{
		Cloneflags:                 flags | syscall.CLONE_NEWUSER,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: inUID, HostID: uid, Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: inGID, HostID: gid, Size: 1}},
		GidMappingsEnableSetgroups: false,
		AmbientCaps:                ambient,
		Setpgid:                    true,
		// Without htapod the box has no network: the command goes with it.
		Pdeathsig: syscall.SIGKILL,
	}
}

// foregroundTTY reports whether stdin is a terminal whose foreground
// process group is ours. Then the command gets the terminal's foreground,
// as a shell gives it to a job, so that the terminal's signals (Ctrl-C,
// Ctrl-\, Ctrl-Z) reach the command alone and htapod forwards only what
// was sent to it by kill.
func foregroundTTY(stdin *os.File) (int, bool) {
	if stdin == nil {
		return 0, false
	}
	fd := int(stdin.Fd())
	pgrp, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	if err != nil || pgrp != unix.Getpgrp() {
		return 0, false
	}
	return fd, true
}

func (b *Box) handshake(spec Spec) error {
	fd := int(b.sock.Fd())
	cs := childSpec{NoMount: spec.NoMount, Argv: spec.Argv, Env: spec.Env, Root: spec.Root || spec.NoUser, TUNName: spec.TUNName,
		MTU: spec.MTU, VnetHdr: spec.VnetHdr, Addr4: spec.Addr4, Addr6: spec.Addr6, Binds: spec.Binds}
	if err := sendJSON(fd, "spec", cs); err != nil {
		return &Error{Step: "send spec to box", Err: err}
	}
	var reply childReply
	tag, fds, err := recvJSON(fd, &reply)
	ce := reply.childError
	if err != nil {
		return &Error{Step: "set up box", Err: fmt.Errorf("box init died: %w", err)}
	}
	if tag == "err" {
		var e error = &ce
		if ce.Errno != 0 {
			e = fmt.Errorf("%s: %w", ce.Step, syscall.Errno(ce.Errno))
		}
		return &Error{Step: ce.Step, Err: e, Hint: stepHint(ce.Step, syscall.Errno(ce.Errno))}
	}
	if tag != "ok" || len(fds) < 1 || len(fds) > 2 {
		return &Error{Step: "set up box", Err: fmt.Errorf("unexpected message %q with %d fds", tag, len(fds))}
	}
	b.TUN = os.NewFile(uintptr(fds[0]), "tun")
	b.persistent = reply.Persistent
	if len(fds) == 2 {
		b.Diag = os.NewFile(uintptr(fds[1]), "sock_diag")
	}
	b.ns = netNS(b.cmd.Process.Pid)
	return nil
}

// Go lets the command run.
func (b *Box) Go() error {
	defer b.sock.Close()
	if err := sendJSON(int(b.sock.Fd()), "go", nil); err != nil {
		return fmt.Errorf("start command: %w", err)
	}
	return nil
}

// Pid is the command's process id (the box's init, which becomes it).
func (b *Box) Pid() int { return b.cmd.Process.Pid }

// Signal sends sig to the command.
func (b *Box) Signal(sig os.Signal) error { return b.cmd.Process.Signal(sig) }

func (b *Box) kill() {
	signal.Stop(b.sigs)
	b.cmd.Process.Kill()
	b.cmd.Wait()
	b.sock.Close()
	b.restoreTTY()
}
