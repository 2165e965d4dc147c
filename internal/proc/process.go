package proc

import (
	"bytes"
	"io/fs"
	"os"
	"strconv"
	"syscall"

	"github.com/htapod/htapod/event"
)

// Limits of a process's command line in a report: a few arguments, each
// cut, so that a long command line (a compiler's, a JVM's) stays short.
const (
	maxArgs   = 8
	maxArgLen = 128
)

// maxDepth bounds a parent chain (a loop cannot happen in /proc, but a
// chain can be long).
const maxDepth = 32

// describe reads pid's executable, command line and parent chain.
func (f *Finder) describe(pid int) *event.Process {
	p := &event.Process{PID: pid}
	p.Exe, p.Argv = exeArgv(pid)
	for _, a := range f.ancestors(pid) {
		exe, argv := exeArgv(a)
		p.Parents = append([]event.Ancestor{{PID: a, Exe: exe, Argv: argv}}, p.Parents...)
	}
	return p
}

// ancestors lists pid's parents inside the box, nearest first, up to and
// including the command htapod started.
func (f *Finder) ancestors(pid int) []int {
	var out []int
	for i := 0; i < maxDepth && pid != f.root; i++ {
		pp := ppid(pid)
		if pp <= 1 || !f.inBox(pp) {
			break
		}
		out = append(out, pp)
		pid = pp
	}
	return out
}

// exeArgv reads a process's executable path and its command line, cut.
func exeArgv(pid int) (string, []string) {
	dir := "/proc/" + strconv.Itoa(pid)
	exe, _ := os.Readlink(dir + "/exe")
	b, _ := os.ReadFile(dir + "/cmdline")
	b = bytes.TrimRight(b, "\x00")
	var argv []string
	for i, a := range bytes.Split(b, []byte{0}) {
		if i == maxArgs {
			argv = append(argv, "…")
			break
		}
		if len(a) > maxArgLen {
			a = append(a[:maxArgLen:maxArgLen], "…"...)
		}
		argv = append(argv, string(a))
	}
	if len(b) == 0 {
		argv = nil
	}
	return exe, argv
}

// ppid reads the parent pid from /proc/PID/stat: the field after the
// state, after the command name in parentheses (which may hold spaces
// and parentheses itself: the last ')' ends it).
func ppid(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(string(f[1]))
	return n
}

func statUID(fi fs.FileInfo) uint32 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid
	}
	return ^uint32(0)
}
