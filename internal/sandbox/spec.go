// Package sandbox builds the box a command runs in: new user, network and
// mount namespaces with a TUN device as the only way out.
//
// A Go process is multi-threaded, so it cannot unshare a user namespace
// itself. Start re-executes the running binary (/proc/self/exe) with
// CLONE_NEWUSER|CLONE_NEWNET|CLONE_NEWNS. That child — the "init" half of
// this package, entered through Init at the top of main — brings lo up,
// creates the TUN device, addresses and routes it, makes the mount tree
// private, bind-mounts single files (resolv.conf, later CA bundles) and
// hands the TUN fd back over a socketpair. When the parent says "go", the
// child drops its capabilities and execs the command, which therefore keeps
// the child's PID: signals, the terminal and the exit status work as for
// any child process.
package sandbox

import (
	"net/netip"
	"os"
)

// Spec describes one box.
type Spec struct {
	// Argv is the command and its arguments; Argv[0] is looked up in the
	// PATH of Env.
	Argv []string
	// Env is the command's whole environment.
	Env []string
	// Root runs the command as uid 0 inside (with the namespace's
	// capabilities). Otherwise it runs as the invoking user, unprivileged.
	Root bool
	// TUNName names the device inside the box; "" means "htapod0".
	TUNName string
	// MTU of the device; 0 means DefaultMTU.
	MTU int
	// VnetHdr opens the TUN with IFF_VNET_HDR and checksum offload
	// (TUNSETOFFLOAD TUN_F_CSUM): every packet read and written carries a
	// struct virtio_net_hdr first, and TCP and UDP checksums may be left
	// partial in both directions.
	VnetHdr bool
	// Addr4 and Addr6 are the device's own addresses in the box. A zero
	// Addr6 leaves the box without IPv6.
	Addr4, Addr6 netip.Addr
	// Binds are files bind-mounted over files of the host tree, inside the
	// box only. They need the mount namespace (NoMount false).
	Binds []Bind
	// NoUser skips the user namespace; only root may do that, and the
	// command then runs as root. NoMount skips the mount namespace (and
	// Binds). UTS and IPC add those namespaces.
	NoUser, NoMount, UTS, IPC bool
	// Stdin, Stdout and Stderr of the command; nil means the null device.
	Stdin, Stdout, Stderr *os.File
	// Prepare, when set, is called once the box's init has been started
	// and before it is sent the spec: it may still set Env and Binds. The
	// init's exec and start-up then overlap with the caller's work (the
	// TLS trust files), which both sit on the path of every run's start.
	Prepare func(*Spec) error
}

// Bind mounts the file or directory Src over Dst. Dst that does not exist
// is skipped unless Required. With Overlay, the directory Src is laid over
// the directory Dst instead (a read-only overlay, lowerdir=Src:Dst): Dst's
// entries show through except where Src has its own, and nothing is copied.
type Bind struct {
	Src, Dst string
	Required bool
	Overlay  bool
}

// DefaultMTU is large: the TUN never touches a wire, and every packet costs
// a read and a write, so fewer, larger packets are faster.
const DefaultMTU = 65520

// childSpec is what the parent sends the child: the part of Spec that
// survives serialisation.
type childSpec struct {
	NoMount bool
	Argv    []string
	Env     []string
	Root    bool
	TUNName string
	MTU     int
	VnetHdr bool
	Addr4   netip.Addr
	Addr6   netip.Addr
	Binds   []Bind
}

// childError is how the child reports a failed step to the parent.
type childError struct {
	Step  string // "open /dev/net/tun", "bind-mount /etc/resolv.conf"…
	Errno int    // the syscall errno, 0 when not a syscall error
	Msg   string
}

func (e *childError) Error() string { return e.Step + ": " + e.Msg }

// childReady is the init's "ok": the box is built; its TUN's fd comes
// with the message.
type childReady struct {
	// Persistent says the TUN device outlives its fds (TUNSETPERSIST): it
	// goes when the box's network namespace does, in the kernel's own
	// time, and closing the last fd is quick.
	Persistent bool
}

// childReply is what the parent reads back: a childError ("err") or a
// childReady ("ok").
type childReply struct {
	childError
	childReady
}
