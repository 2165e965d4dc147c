package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// envChild marks the re-executed child. Its value is the fd number of the
// socket to the parent.
const envChild = "_HTAPOD_SANDBOX_INIT"

// childFD is the socket's fd in the child (the first of ExtraFiles).
const childFD = 3

// Init takes over when the running binary was re-executed as the box's
// init: it sets the box up, execs the command and never returns. In any
// other process it returns at once. Every program that uses the sandbox
// must call it first in main, before it does anything else (in the manner
// of Docker's reexec.Init): the box's init is the same binary, started
// again, and only Init knows it is one.
func Init() {
	if os.Getenv(envCloser) != "" {
		runCloser()
	}
	if os.Getenv(envChild) == "" {
		return
	}
	os.Unsetenv(envChild)
	os.Exit(runInit())
}

func runInit() int {
	var spec childSpec
	tag, _, err := recvJSON(childFD, &spec)
	if err != nil || tag != "spec" {
		fmt.Fprintf(os.Stderr, "htapod: box init: read spec: %v\n", err)
		return 125
	}
	tun, persistent, cerr := setup(&spec)
	if cerr != nil {
		sendJSON(childFD, "err", cerr)
		return 125
	}
	fds := []int{tun}
	// A sock_diag socket of the box's namespace, for the parent to find
	// the process behind a flow; the box works without it.
	if diag, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG); err == nil {
		fds = append(fds, diag)
	}
	if err := sendJSON(childFD, "ok", childReady{Persistent: persistent}, fds...); err != nil {
		fmt.Fprintf(os.Stderr, "htapod: box init: send tun: %v\n", err)
		return 125
	}
	for _, fd := range fds {
		unix.Close(fd)
	}
	// Wait for the parent's netstack to be ready. EOF means the parent died.
	if tag, _, err := recvJSON(childFD, nil); err != nil || tag != "go" {
		return 125
	}
	return execCommand(&spec)
}

// setup builds the box. Errors name the step and keep the errno, so the
// parent can explain them.
func setup(spec *childSpec) (int, bool, *childError) {
	if !spec.NoMount {
		if err := setupMounts(spec.Binds); err != nil {
			return -1, false, err
		}
	}
	return setupNetwork(spec)
}

func stepErr(step string, err error) *childError {
	ce := &childError{Step: step, Msg: err.Error()}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		ce.Errno = int(errno)
	}
	return ce
}

// execCommand replaces the init with the command. It returns only on
// failure, with the shell's exit codes: 127 not found, 126 not executable.
func execCommand(spec *childSpec) int {
	env := spec.Env
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			os.Setenv("PATH", v)
		}
	}
	name := spec.Argv[0]
	path, err := exec.LookPath(name)
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			fmt.Fprintf(os.Stderr, "htapod: %s: command not found\n", name)
			return 127
		}
		if errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(os.Stderr, "htapod: %s: no such file or directory\n", name)
			return 127
		}
		fmt.Fprintf(os.Stderr, "htapod: %s: %v\n", name, unwrapPathErr(err))
		return 126
	}
	// Capabilities are per thread, and exec takes the calling thread's:
	// drop them on this thread and exec from it.
	runtime.LockOSThread()
	if !spec.Root {
		if err := dropCapabilities(); err != nil {
			fmt.Fprintf(os.Stderr, "htapod: drop capabilities: %v\n", err)
			return 125
		}
	}
	err = unix.Exec(path, spec.Argv, env)
	fmt.Fprintf(os.Stderr, "htapod: %s: %v\n", name, err)
	if errors.Is(err, unix.ENOENT) {
		return 127
	}
	return 126
}

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err
	}
	return err
}

// dropCapabilities leaves the command with no capabilities: the ambient
// set that carried CAP_NET_ADMIN and CAP_SYS_ADMIN into the init is
// cleared, and so are the inheritable and permitted sets.
func dropCapabilities() error {
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear ambient: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}
