// Package lineout shares one output file between a command and htapod's
// report so that a report line never lands in the middle of a line the
// command wrote.
//
// When the report goes to the same file as the command's stdout or stderr
// (a pipe or a log file, as in CI), htapod gives the command a pipe
// instead and copies what it writes to the file at once and unchanged,
// while report lines wait until the command's output is at the start of a
// line. A terminal is never replaced: the command must see its terminal.
package lineout

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// maxPending bounds report lines held back while the command's output is
// mid-line; beyond it they are written anyway (nothing is lost).
const maxPending = 1024

// Mux merges streams and report lines into one file. It is safe for
// concurrent use.
type Mux struct {
	mu      sync.Mutex
	out     io.Writer
	midLine map[*stream]bool // streams whose last byte was not a line end
	pending [][]byte
	wg      sync.WaitGroup
}

// stream is one pipe's key in midLine. It is not zero-size: pointers to
// distinct zero-size values may be equal, and every pipe would share one
// key.
type stream struct{ _ byte }

// New returns a Mux writing to out.
func New(out io.Writer) *Mux { return &Mux{out: out, midLine: map[*stream]bool{}} }

// Write writes report text, which must be whole lines. While a command
// stream is mid-line the lines are held back.
func (m *Mux) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.anyMidLine() && len(m.pending) < maxPending {
		m.pending = append(m.pending, bytes.Clone(p))
		return len(p), nil
	}
	m.flushLocked()
	return m.out.Write(p)
}

func (m *Mux) anyMidLine() bool {
	for _, mid := range m.midLine {
		if mid {
			return true
		}
	}
	return false
}

func (m *Mux) flushLocked() {
	for _, p := range m.pending {
		m.out.Write(p)
	}
	m.pending = nil
}

// Pipe returns a pipe whose write end is to be given to the command in
// place of out; what the command writes is copied to out unchanged. Close
// the returned writer in this process once the command has it (after it
// started); Wait returns when the command's copy is closed too.
func (m *Mux) Pipe() (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	s := &stream{}
	m.wg.Add(1)
	go m.copy(s, r)
	return w, nil
}

func (m *Mux) copy(s *stream, r *os.File) {
	defer m.wg.Done()
	defer r.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			m.mu.Lock()
			m.out.Write(buf[:n])
			last := buf[n-1]
			m.midLine[s] = last != '\n' && last != '\r'
			if !m.anyMidLine() {
				m.flushLocked()
			}
			m.mu.Unlock()
		}
		if err != nil {
			m.mu.Lock()
			delete(m.midLine, s)
			if !m.anyMidLine() {
				m.flushLocked()
			}
			m.mu.Unlock()
			return
		}
	}
}

// Wait waits until every pipe's writers are closed and everything is
// copied, at most for timeout (a process the command left behind may hold
// a pipe open), then writes any report lines still held back.
func (m *Mux) Wait(timeout time.Duration) {
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
	}
	m.mu.Lock()
	m.flushLocked()
	m.mu.Unlock()
}

// SameFile reports whether a and b are the same open file (same device
// and inode), e.g. stdout and stderr both redirected to one pipe.
func SameFile(a, b *os.File) bool {
	if a == nil || b == nil {
		return false
	}
	sa, err1 := a.Stat()
	sb, err2 := b.Stat()
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	isTerm := false
	control(f, func(fd int) { isTerm = isTerminalFd(fd) })
	return isTerm
}

func isTerminalFd(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// control runs fn with f's descriptor. Unlike f.Fd it leaves a
// non-blocking f non-blocking (Fd switches it to blocking mode for good).
func control(f *os.File, fn func(fd int)) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) { fn(int(fd)) })
}

// NonBlocking returns f reopened as an open file of this process's own in
// non-blocking mode, served by Go's poller, when f is a pipe or a
// terminal; otherwise (a regular file or /dev/null, whose writes do not
// wait; a socket, which cannot be reopened; a reopening refused) f
// itself. The caller closes a returned file that is not f.
//
// Why: a write to a pipe that its reader does not drain blocks in the
// system call, and a goroutine in a blocking system call keeps its P
// until the runtime's monitor takes it back, 20 µs to 10 ms later. With
// the few Ps htapod keeps while a command runs (package procs), every
// report line written while `htapod -- cmd 2>&1 | slow-reader` lags
// stalled the relaying of every connection that long. In the poller the
// writer parks instead. f's own open file is not touched: the command
// shares it, and a non-blocking stdout would break programs that do not
// expect EAGAIN.
func NonBlocking(f *os.File) *os.File {
	nfd := -1
	control(f, func(fd int) {
		if !pipeOrTerminal(fd) {
			return
		}
		if n, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", fd),
			unix.O_WRONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0); err == nil {
			nfd = n
		}
	})
	if nfd < 0 {
		return f
	}
	return os.NewFile(uintptr(nfd), f.Name())
}

func pipeOrTerminal(fd int) bool {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return false
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFIFO:
		return true
	case unix.S_IFCHR:
		return isTerminalFd(fd)
	}
	return false
}
