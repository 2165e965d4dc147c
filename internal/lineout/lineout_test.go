package lineout

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// lockedBuffer is the shared output file of these tests: the Mux writes it
// from its copy goroutines while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newTestMux returns a Mux writing to a buffer.
func newTestMux(tb testing.TB) (*Mux, *lockedBuffer) {
	tb.Helper()
	out := &lockedBuffer{}
	return New(out), out
}

// newTestPipe returns the write end of a Mux pipe; it is closed at the
// end of the test if the test has not closed it.
func newTestPipe(tb testing.TB, m *Mux) *os.File {
	tb.Helper()
	w, err := m.Pipe()
	if err != nil {
		tb.Fatalf("Pipe() error = %v", err)
	}
	tb.Cleanup(func() { w.Close() })
	return w
}

// waitOut waits, at most 5 s, until out holds want.
func waitOut(tb testing.TB, out *lockedBuffer, want string) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for out.String() != want {
		if time.Now().After(deadline) {
			tb.Fatalf("output = %q; want %q", out.String(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitPrefix waits, at most 5 s, until out starts with prefix.
func waitPrefix(tb testing.TB, out *lockedBuffer, prefix string) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.HasPrefix(out.String(), prefix) {
		if time.Now().After(deadline) {
			tb.Fatalf("output = %q; want it to start with %q", out.String(), prefix)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settle gives the copy goroutines time to write what they would.
func settle() { time.Sleep(50 * time.Millisecond) }

func write(tb testing.TB, w interface{ Write([]byte) (int, error) }, s string) {
	tb.Helper()
	if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
		tb.Fatalf("Write(%q) = %d, %v; want %d, nil", s, n, err, len(s))
	}
}

func TestMuxWithoutStream(t *testing.T) {
	m, out := newTestMux(t)
	write(t, m, "report 1\n")
	write(t, m, "report 2\n")
	if got, want := out.String(), "report 1\nreport 2\n"; got != want {
		t.Errorf("Mux without streams wrote %q; want %q at once", got, want)
	}
}

func TestMuxHoldsReportMidLine(t *testing.T) {
	tests := []struct {
		name  string
		start string // the command writes this, ending mid-line
		end   string // then this, ending the line
	}{
		{name: "newline", start: "downloading", end: "... done\n"},
		{name: "carriage return", start: "progress 10%", end: "\r"},
		{name: "line end in the middle", start: "a\nb", end: "c\nd\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, out := newTestMux(t)
			w := newTestPipe(t, m)
			write(t, w, tt.start)
			waitOut(t, out, tt.start)
			write(t, m, "report\n")
			settle()
			if got := out.String(); got != tt.start {
				t.Fatalf("report written mid-line: output = %q; want %q until the line ends", got, tt.start)
			}
			write(t, w, tt.end)
			waitOut(t, out, tt.start+tt.end+"report\n")
		})
	}
}

func TestMuxAtLineStart(t *testing.T) {
	m, out := newTestMux(t)
	w := newTestPipe(t, m)
	write(t, w, "whole line\n")
	waitOut(t, out, "whole line\n")
	write(t, m, "report\n")
	if got, want := out.String(), "whole line\nreport\n"; got != want {
		t.Errorf("report at a line start: output = %q; want %q at once", got, want)
	}
}

func TestMuxTwoStreams(t *testing.T) {
	m, out := newTestMux(t)
	stdout, stderr := newTestPipe(t, m), newTestPipe(t, m)
	write(t, stdout, "out")
	waitOut(t, out, "out")
	write(t, stderr, "err")
	waitOut(t, out, "outerr")
	write(t, m, "report\n")
	write(t, stdout, "\n")
	waitPrefix(t, out, "outerr\n")
	settle()
	if got := out.String(); got != "outerr\n" {
		t.Fatalf("report written while stderr is mid-line: output = %q; want %q", got, "outerr\n")
	}
	write(t, stderr, "\n")
	waitOut(t, out, "outerr\n\nreport\n")
}

// TestMuxOtherStreamCloses: stdout is mid-line when stderr closes (the
// command closed it, or a child holding it exited); the report must still
// wait for stdout's line end.
func TestMuxOtherStreamCloses(t *testing.T) {
	m, out := newTestMux(t)
	stdout, stderr := newTestPipe(t, m), newTestPipe(t, m)
	write(t, stdout, "half a line")
	waitOut(t, out, "half a line")
	stderr.Close()
	settle() // the copy of stderr sees EOF
	write(t, m, "report\n")
	settle()
	if got := out.String(); got != "half a line" {
		t.Fatalf("report written while stdout is mid-line (after stderr closed): output = %q; want %q", got, "half a line")
	}
	write(t, stdout, " and the rest\n")
	waitOut(t, out, "half a line and the rest\nreport\n")
}

func TestMuxStreamEndsMidLine(t *testing.T) {
	m, out := newTestMux(t)
	w, err := m.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	write(t, w, "no newline at exit")
	waitOut(t, out, "no newline at exit")
	write(t, m, "report\n")
	w.Close()
	m.Wait(5 * time.Second)
	if got, want := out.String(), "no newline at exitreport\n"; got != want {
		t.Errorf("after the stream closed mid-line: output = %q; want %q", got, want)
	}
}

// TestMuxRandomChunks copies random bytes in random chunks while report
// lines arrive, and checks the command's bytes come out unchanged and in
// order, and every report line whole, in order, at a line start.
func TestMuxRandomChunks(t *testing.T) {
	for seed := range uint64(5) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 42))
			m, out := newTestMux(t)
			w, err := m.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			// The command's alphabet has no 'R', so report lines are
			// easy to find and to remove.
			const alphabet = "abcdefgh \n\r\x00\xff"
			in := make([]byte, 64<<10)
			for i := range in {
				in[i] = alphabet[r.IntN(len(alphabet))]
			}
			in[len(in)-1] = '\n' // a stream that ends mid-line lets reports follow
			done := make(chan struct{})
			go func() {
				defer close(done)
				defer w.Close()
				for b := in; len(b) > 0; {
					n := min(len(b), 1+rand.IntN(3000))
					w.Write(b[:n])
					b = b[n:]
				}
			}()
			const reports = 200
			for i := range reports {
				fmt.Fprintf(m, "REPORT %d\n", i)
				if i%20 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			<-done
			m.Wait(10 * time.Second)

			got := out.String()
			rest := got
			next := 0
			var cmd strings.Builder
			for {
				i := strings.Index(rest, "REPORT ")
				if i < 0 {
					cmd.WriteString(rest)
					break
				}
				if before := got[:len(got)-len(rest)+i]; before != "" && !strings.HasSuffix(before, "\n") && !strings.HasSuffix(before, "\r") {
					t.Errorf("report line at offset %d follows %q; want it at a line start", len(before), before[max(0, len(before)-10):])
				}
				cmd.WriteString(rest[:i])
				line := fmt.Sprintf("REPORT %d\n", next)
				if !strings.HasPrefix(rest[i:], line) {
					t.Fatalf("at offset %d: %q; want the whole line %q", len(got)-len(rest)+i, rest[i:min(len(rest), i+20)], line)
				}
				next++
				rest = rest[i+len(line):]
			}
			if next != reports {
				t.Errorf("output has %d report lines; want %d", next, reports)
			}
			if !bytes.Equal([]byte(cmd.String()), in) {
				t.Errorf("the command's bytes came out changed (%d bytes; want %d)", cmd.Len(), len(in))
			}
		})
	}
}

func TestMuxPendingBound(t *testing.T) {
	m, out := newTestMux(t)
	w := newTestPipe(t, m)
	write(t, w, "mid")
	waitOut(t, out, "mid")
	const n = 2*maxPending + 100
	var want strings.Builder
	want.WriteString("mid")
	for i := range n {
		line := fmt.Sprintf("report %d\n", i)
		write(t, m, line)
		want.WriteString(line)
	}
	// Beyond the bound, held lines are written anyway.
	if got := strings.Count(out.String(), "\n"); got < maxPending {
		t.Errorf("after %d lines held mid-line: %d written; want at least %d (the bound)", n, got, maxPending)
	}
	write(t, w, "\n")
	want.WriteString("\n")
	// "mid" + every report in order, with the command's "\n" somewhere
	// after the last line written beyond the bound.
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(out.String(), "\n") < n+1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	got := out.String()
	reports := strings.Replace(got, "\n\n", "\n", 1) // drop the command's line end
	if !strings.HasPrefix(reports, "mid") {
		t.Fatalf("output starts %q; want %q", reports[:min(20, len(reports))], "mid")
	}
	lines := strings.Split(strings.TrimSuffix(strings.TrimPrefix(reports, "mid"), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("output has %d report lines; want %d (none lost)", len(lines), n)
	}
	for i, l := range lines {
		if want := fmt.Sprintf("report %d", i); l != want {
			t.Fatalf("report line %d = %q; want %q", i, l, want)
		}
	}
}

func TestMuxWait(t *testing.T) {
	t.Run("writers closed", func(t *testing.T) {
		m, out := newTestMux(t)
		w, err := m.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		big := bytes.Repeat([]byte("0123456789abcde\n"), 16<<10) // 256 KiB
		go func() {
			w.Write(big)
			w.Close()
		}()
		start := time.Now()
		m.Wait(30 * time.Second)
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("Wait after the writers closed took %v; want it to return when copied", took)
		}
		if got := out.String(); got != string(big) {
			t.Errorf("after Wait: %d bytes out; want all %d copied", len(got), len(big))
		}
	})
	t.Run("writer left open", func(t *testing.T) {
		m, out := newTestMux(t)
		w := newTestPipe(t, m)
		write(t, w, "left open")
		waitOut(t, out, "left open")
		write(t, m, "last report\n")
		const timeout = 200 * time.Millisecond
		start := time.Now()
		m.Wait(timeout)
		took := time.Since(start)
		if took < timeout || took > 5*time.Second {
			t.Errorf("Wait(%v) with a writer open took %v; want about %v", timeout, took, timeout)
		}
		if got, want := out.String(), "left openlast report\n"; got != want {
			t.Errorf("after Wait(%v): output = %q; want held lines written: %q", timeout, got, want)
		}
	})
	t.Run("no pipes", func(t *testing.T) {
		m, _ := newTestMux(t)
		start := time.Now()
		m.Wait(5 * time.Second)
		if took := time.Since(start); took > time.Second {
			t.Errorf("Wait without pipes took %v; want at once", took)
		}
	})
}

func TestSameFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	open := func(p string) *os.File {
		t.Helper()
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	a, b := open(path), open(path)
	other := open(filepath.Join(dir, "other"))
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close(); pw.Close() })
	fd, err := unix.Dup(int(pw.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	dup := os.NewFile(uintptr(fd), "dup")
	t.Cleanup(func() { dup.Close() })
	pr2, pw2, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr2.Close(); pw2.Close() })
	closed := open(filepath.Join(dir, "closed"))
	closed.Close()

	tests := []struct {
		name string
		a, b *os.File
		want bool
	}{
		{"file opened twice", a, b, true},
		{"different files", a, other, false},
		{"pipe and its dup", pw, dup, true},
		{"different pipes", pw, pw2, false},
		{"file and pipe", a, pw, false},
		{"nil", a, nil, false},
		{"both nil", nil, nil, false},
		{"closed file", closed, closed, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SameFile(tt.a, tt.b); got != tt.want {
				t.Errorf("SameFile(%s) = %v; want %v", tt.name, got, tt.want)
			}
		})
	}
}

// openPTY opens a pseudo-terminal pair from /dev/ptmx.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open the pty's slave: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

func TestIsTerminal(t *testing.T) {
	dir := t.TempDir()
	file, err := os.Create(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { file.Close() })
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close(); pw.Close() })
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { null.Close() })

	tests := []struct {
		name string
		f    *os.File
		want bool
	}{
		{"regular file", file, false},
		{"pipe", pw, false},
		{"/dev/null", null, false},
	}
	for _, tt := range tests {
		if got := IsTerminal(tt.f); got != tt.want {
			t.Errorf("IsTerminal(%s) = %v; want %v", tt.name, got, tt.want)
		}
	}
	t.Run("pty", func(t *testing.T) {
		master, slave := openPTY(t)
		if !IsTerminal(slave) {
			t.Errorf("IsTerminal(pty slave) = false; want true")
		}
		if !IsTerminal(master) {
			t.Errorf("IsTerminal(pty master) = false; want true")
		}
	})
}

// isNonBlocking reports whether f's open file has O_NONBLOCK, read without
// f.Fd (which would clear it).
func isNonBlocking(t *testing.T, f *os.File) bool {
	t.Helper()
	var flags int
	var err error
	control(f, func(fd int) { flags, err = unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0) })
	if err != nil {
		t.Fatal(err)
	}
	return flags&unix.O_NONBLOCK != 0
}

// reopen makes f blocking, as an inherited stderr is, and returns
// NonBlocking(f), closed when the test ends. It fails the test unless f
// was reopened non-blocking and f itself stayed blocking.
func reopen(t *testing.T, f *os.File) *os.File {
	t.Helper()
	f.Fd() // sets f blocking
	nb := NonBlocking(f)
	if nb == f {
		t.Fatalf("%s was not reopened", f.Name())
	}
	t.Cleanup(func() { nb.Close() })
	if !isNonBlocking(t, nb) {
		t.Fatal("the reopened file is blocking")
	}
	if isNonBlocking(t, f) {
		t.Fatal("the open file the command shares became non-blocking")
	}
	return nb
}

// TestNonBlockingPipe: the report's pipe is reopened non-blocking for
// htapod alone; the open file the command shares stays blocking; a write
// larger than the pipe holds waits for the reader (in the poller) rather
// than failing with EAGAIN; and what both write arrives in order.
func TestNonBlockingPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	nb := reopen(t, w)
	if IsTerminal(nb); !isNonBlocking(t, nb) {
		t.Fatal("IsTerminal made the reopened pipe blocking")
	}

	big := bytes.Repeat([]byte("report line\n"), 100_000) // 1.2 MB, > 64 KiB pipe
	got := make(chan []byte)
	go func() {
		var all bytes.Buffer
		all.ReadFrom(r)
		got <- all.Bytes()
	}()
	if _, err := nb.Write(big); err != nil {
		t.Fatalf("write through the reopened pipe: %v", err)
	}
	if _, err := w.WriteString("command's line\n"); err != nil {
		t.Fatal(err)
	}
	nb.Close()
	w.Close()
	all := <-got
	if want := append(bytes.Clone(big), "command's line\n"...); !bytes.Equal(all, want) {
		t.Fatalf("the reader got %d bytes, want %d in order", len(all), len(want))
	}
}

// TestNonBlockingTerminal: a terminal is reopened too, and lines written
// through it reach the terminal.
func TestNonBlockingTerminal(t *testing.T) {
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	defer ptm.Close()
	var n int
	control(ptm, func(fd int) {
		unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0)
		n, err = unix.IoctlGetInt(fd, unix.TIOCGPTN)
	})
	if err != nil {
		t.Fatal(err)
	}
	pts, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_WRONLY|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer pts.Close()
	nb := reopen(t, pts)
	if _, err := nb.WriteString("GET /x 200\n"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	ptm.SetReadDeadline(time.Now().Add(5 * time.Second))
	k, err := ptm.Read(buf)
	if err != nil || !strings.Contains(string(buf[:k]), "GET /x 200") {
		t.Fatalf("the terminal got %q, %v", buf[:k], err)
	}
}

// TestNonBlockingRegularFile: a regular file, whose writes do not wait, is
// used as it is (a second open file would have an offset of its own).
func TestNonBlockingRegularFile(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "report.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if NonBlocking(f) != f {
		t.Fatal("a regular file was reopened")
	}
}
