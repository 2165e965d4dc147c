package sandbox

import (
	"errors"
	"os"
	"strings"
	"syscall"
)

// Error is a failure to build the box. Hint says what to do about it, in
// one or more lines meant for a person; it may be "".
type Error struct {
	Step string
	Err  error
	Hint string
}

func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// userNSHint explains a failed clone(CLONE_NEWUSER), from the sysctls that
// can forbid it.
func userNSHint(err error) string {
	if !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.EACCES) &&
		!errors.Is(err, syscall.ENOSPC) && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.EUSERS) {
		return ""
	}
	var b strings.Builder
	b.WriteString("htapod needs unprivileged user namespaces, and this machine does not allow them.\n")
	found := false
	if v, ok := readSysctl("kernel/unprivileged_userns_clone"); ok && v == "0" {
		b.WriteString("  kernel.unprivileged_userns_clone is 0. Allow them with:\n" +
			"    sudo sysctl -w kernel.unprivileged_userns_clone=1\n")
		found = true
	}
	if v, ok := readSysctl("user/max_user_namespaces"); ok && v == "0" {
		b.WriteString("  user.max_user_namespaces is 0. Allow them with:\n" +
			"    sudo sysctl -w user.max_user_namespaces=15000\n")
		found = true
	}
	if v, ok := readSysctl("kernel/apparmor_restrict_unprivileged_userns"); ok && v == "1" {
		b.WriteString("  AppArmor restricts them (kernel.apparmor_restrict_unprivileged_userns=1). Either allow them:\n" +
			"    sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0\n" +
			"  or give htapod an AppArmor profile with `userns,` (see `htapod doctor`).\n")
		found = true
	}
	if !found {
		b.WriteString("  No sysctl forbids them here: a container runtime or seccomp profile may block\n" +
			"  unshare/clone. Run htapod outside the container, or allow user namespaces in it.\n")
	}
	b.WriteString("  Run `htapod doctor` to check everything htapod needs.")
	return b.String()
}

// stepHint explains a failed step inside the box.
func stepHint(step string, errno syscall.Errno) string {
	switch {
	case strings.HasPrefix(step, "open /dev/net/tun"):
		switch errno {
		case syscall.ENOENT, syscall.ENODEV, syscall.ENXIO:
			return "There is no TUN device. Load the module and create the node:\n" +
				"    sudo modprobe tun\n" +
				"    sudo mkdir -p /dev/net && sudo mknod -m 0666 /dev/net/tun c 10 200\n" +
				"  In a container, pass the device in (docker run --device /dev/net/tun …)."
		case syscall.EACCES, syscall.EPERM:
			return "/dev/net/tun is not accessible to your user. Most distributions make it\n" +
				"  mode 0666; do the same here:\n" +
				"    sudo chmod 0666 /dev/net/tun"
		}
	case strings.HasPrefix(step, "create tun"):
		return "The kernel refused to create a TUN device in the box's network namespace.\n" +
			"  A container or security module may forbid it; `htapod doctor` checks."
	case strings.HasPrefix(step, "bind-mount"):
		return "The box could not replace that file. If it is a dangling symbolic link\n" +
			"  (a resolv.conf pointing at a stopped service), fix or remove the link."
	}
	return ""
}

func readSysctl(name string) (string, bool) {
	b, err := os.ReadFile("/proc/sys/" + name)
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}
