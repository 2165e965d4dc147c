package proc

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
)

// fdTable is what one process's fds held at the last look.
type fdTable struct {
	ino   map[int]uint64 // fd → the socket's inode, or 0: not a socket
	low   int            // every fd below is in ino
	freed []int          // fds of sockets the command closed since (Released)
	last  int            // the fd the last socket found was on, or -1
}

// maxFreed bounds freed: a process that closes sockets and opens none
// (no lookup reads them) keeps only the latest.
const maxFreed = 64

// release records that fd's socket most likely closed.
func (t *fdTable) release(fd int) {
	if len(t.freed) >= maxFreed {
		t.freed = t.freed[1:]
	}
	t.freed = append(t.freed, fd)
}

// forget drops a closed fd.
func (t *fdTable) forget(fd int) {
	delete(t.ino, fd)
	t.low = min(t.low, fd)
}

// index looks at the fds of pids, newest first, until it has found the
// holder of socket want, and records the holder of each socket it sees;
// when several processes hold one (a socket inherited across fork), the
// newest, most likely the child that uses it.
func (f *Finder) index(pids []int, want uint64) (owner, bool) {
	if len(f.owners) >= maxCache {
		clear(f.owners)
	}
	seen := map[uint64]bool{}
	for _, pid := range pids {
		if fd, ok := f.indexPid(pid, want, seen); ok {
			if t := f.fds[pid]; t != nil {
				t.last = fd
			}
			return owner{pid, fd}, true
		}
	}
	return owner{}, false
}

// indexPid looks for want among pid's fds, and returns the fd that holds
// it. Reading an fd (a readlink) and listing them all (which costs about
// as much per fd) are what a lookup costs; a command holding a thousand
// connections made every new one cost a thousand of each. So what was
// seen is kept, and a new socket is looked for where the kernel puts it,
// the lowest free fd: first on the fd the last socket was found on; then
// on the fds of sockets the command closed (Released), lowest first; then
// on the lowest numbers not seen (a process opening more); then on the
// fds that held sockets (one closed, another opened before the Finder
// heard of it). Only when it is on none of those (it took the number of a
// closed file) are the fds listed and read.
func (f *Finder) indexPid(pid int, want uint64, seen map[uint64]bool) (int, bool) {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd/"
	t := f.fds[pid]
	if t == nil {
		t = &fdTable{ino: map[int]uint64{}, last: -1}
		f.fds[pid] = t
	}
	look := func(fd int) (uint64, bool) {
		ino, err := readSocket(dir, fd)
		if err != nil {
			t.forget(fd)
			return 0, false
		}
		t.ino[fd] = ino
		if ino != 0 && !seen[ino] {
			seen[ino] = true
			f.owners[ino] = owner{pid, fd}
		}
		return ino, true
	}
	if len(t.ino) > 0 {
		// The fd the last socket was found on comes first: a socket that
		// lived for one exchange (a DNS lookup's, which takes the fd of a
		// connection just closed) leaves it for the next one.
		if t.last >= 0 {
			if ino, ok := look(t.last); ok && ino == want {
				return t.last, true
			}
		}
		freed := slices.Compact(slices.Sorted(slices.Values(t.freed)))
		t.freed = nil
		for i, fd := range freed {
			if ino, ok := look(fd); ok && ino == want {
				t.freed = freed[i+1:] // for the next lookup
				return fd, true
			}
		}
		const misses = 4 // free numbers tried before giving up
		for _, known := t.ino[t.low]; known; _, known = t.ino[t.low] {
			t.low++
		}
		for fd, miss := t.low, 0; miss < misses; fd++ {
			if _, known := t.ino[fd]; known {
				continue
			}
			ino, ok := look(fd)
			if ok && ino == want {
				return fd, true
			}
			if !ok {
				miss++
			}
		}
		for fd, ino := range t.ino {
			if ino != 0 {
				if now, _ := look(fd); now == want {
					return fd, true
				}
			}
		}
	}
	return f.listPid(pid, dir, t, want, look)
}

// listPid lists pid's fds and reads those it has not read as sockets,
// each once: the new ones, then the others (see indexPid).
func (f *Finder) listPid(pid int, dir string, t *fdTable, want uint64, look func(int) (uint64, bool)) (int, bool) {
	d, err := os.Open(dir)
	if err != nil {
		delete(f.fds, pid)
		return 0, false
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	listed := make(map[int]bool, len(names))
	found := -1
	var others []int
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		listed[fd] = true
		ino, known := t.ino[fd]
		switch {
		case known && ino == 0:
			others = append(others, fd)
		case known: // a socket read above
		case found < 0: // new: read every one
			if ino, _ := look(fd); ino == want {
				found = fd
			}
		default:
			look(fd)
		}
	}
	for fd := range t.ino {
		if !listed[fd] {
			t.forget(fd) // closed
		}
	}
	if found >= 0 {
		return found, true
	}
	for _, fd := range others {
		if ino, _ := look(fd); ino == want {
			return fd, true
		}
	}
	return 0, false
}

// readSocket returns the inode of the socket that fd (in the fd
// directory dir) is, or 0 when it is something else; an error when there
// is no such fd.
func readSocket(dir string, fd int) (uint64, error) {
	l, err := os.Readlink(dir + strconv.Itoa(fd))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, err
		}
		return 0, nil // not ours to read: nothing to find there
	}
	if !strings.HasPrefix(l, "socket:[") {
		return 0, nil
	}
	ino, _ := strconv.ParseUint(strings.TrimSuffix(l[len("socket:["):], "]"), 10, 64)
	return ino, nil
}

// setPids records the box's processes, and forgets the fds of those gone.
func (f *Finder) setPids(pids []int) {
	f.pids = pids
	for pid := range f.fds {
		if !slices.Contains(pids, pid) {
			delete(f.fds, pid)
		}
	}
}
