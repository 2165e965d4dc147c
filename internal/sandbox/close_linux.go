package sandbox

import (
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// envCloser marks the re-executed helper that closes a TUN for us.
const envCloser = "_HTAPOD_TUN_CLOSER"

// Close releases the box's TUN device (and its sock_diag socket).
//
// The last close of a TUN fd unregisters the device and waits for RCU grace
// periods: about 20 ms, every run, for nothing the user wants. So the last
// reference is handed to a short-lived helper (this binary again) that
// nobody waits for: it holds a copy of the fd until htapod's own copy is
// closed, then exits, and the kernel tears the device down in its exit.
// If the helper cannot start, the fd is closed here, the slow way. A
// persistent TUN (childReady) needs none of this when the box is empty:
// its fd closes at once, and the kernel removes the device with the box's
// namespace. When processes the command started are left in the box, the
// device is made non-persistent first, so that they lose the network at
// once, as they would with a TUN that was never persistent.
func (b *Box) Close() error {
	if b.Diag != nil {
		b.Diag.Close()
		b.Diag = nil
	}
	if b.TUN == nil {
		return nil
	}
	tun := b.TUN
	b.TUN = nil
	if b.persistent {
		if len(boxProcesses(b.ns)) == 0 {
			return tun.Close() // the device goes with the namespace
		}
		// Something the command started lives on in the box: it must lose
		// the network at once (ENETUNREACH), not into a device that no
		// one reads. The device goes now, with its last close.
		unix.IoctlSetInt(int(tun.Fd()), unix.TUNSETPERSIST, 0)
	}
	self, err := os.Executable()
	if err != nil {
		return tun.Close()
	}
	r, w, err := os.Pipe()
	if err != nil {
		return tun.Close()
	}
	helper := exec.Command(self)
	helper.Args = []string{"htapod-tun-closer"}
	helper.Env = []string{envCloser + "=1"}
	helper.ExtraFiles = []*os.File{tun, r} // fds 3 and 4
	helper.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	started := helper.Start() == nil
	r.Close()
	err = tun.Close()
	w.Close() // the helper sees EOF and exits, closing the last copy
	if started {
		go helper.Wait() // reap it if we are still here; else init does
	}
	return err
}

// runCloser is the helper's body: wait until the parent has closed its copy
// of the TUN (EOF on fd 4), then exit and let the kernel close fd 3.
func runCloser() {
	var b [1]byte
	os.NewFile(4, "pipe").Read(b[:])
	os.Exit(0)
}
