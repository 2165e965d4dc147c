package sandbox

import (
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// Status is how the command ended.
type Status struct {
	// Code is the exit status, or 128+N when signal N killed the command,
	// as a shell reports it.
	Code int
	// Signal is the signal that killed the command, or 0.
	Signal syscall.Signal
}

// forwarded are the signals that htapod passes on to the command.
var forwarded = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2}

// Wait forwards signals to the command until it exits and returns its
// status. When the command stops (Ctrl-Z), htapod takes the terminal back
// and stops too, so the user's shell regains control; on `fg` it gives the
// terminal back and continues the command.
func (b *Box) Wait() (Status, error) {
	sigs := b.sigs
	defer signal.Stop(sigs)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case s := <-sigs:
				b.cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	pid := b.cmd.Process.Pid
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(pid, &ws, unix.WUNTRACED, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return Status{Code: 125}, err
		}
		switch {
		case ws.Stopped():
			b.suspend(pid)
		case ws.Exited():
			b.restoreTTY()
			return Status{Code: ws.ExitStatus()}, nil
		case ws.Signaled():
			b.restoreTTY()
			return Status{Code: 128 + int(ws.Signal()), Signal: ws.Signal()}, nil
		}
	}
}

// suspend follows a stopped command: take the terminal, stop ourselves,
// and when continued give the terminal back and continue the command.
func (b *Box) suspend(pid int) {
	b.restoreTTY()
	unix.Kill(os.Getpid(), unix.SIGSTOP)
	// Continued by the user's shell.
	if b.tty >= 0 {
		setForeground(b.tty, pid)
	}
	unix.Kill(-pid, unix.SIGCONT)
}

// restoreTTY makes htapod's own process group the terminal's foreground
// again, after the command had it.
func (b *Box) restoreTTY() {
	if b.tty >= 0 {
		setForeground(b.tty, unix.Getpgrp())
	}
}

// setForeground sets the terminal's foreground process group. A background
// process doing so gets SIGTTOU unless it ignores it.
func setForeground(tty, pgrp int) {
	signal.Ignore(syscall.SIGTTOU)
	defer signal.Reset(syscall.SIGTTOU)
	unix.IoctlSetPointerInt(tty, unix.TIOCSPGRP, pgrp)
}
