// Package proc finds the process behind a flow inside the box: the socket
// of the flow's 4-tuple in the box's socket tables (/proc/PID/net/tcp…),
// then the process holding that socket (a /proc/PID/fd link that reads
// "socket:[INODE]") among the box's processes — those of our user in the
// box's network namespace — and its parent chain up to the command.
//
// It must run while the socket exists: at the SYN (the process is blocked
// in connect) or at the first datagram (it has just sent). A process that
// already closed the socket or exited is reported as not found.
package proc

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"sync"

	"github.com/htapod/htapod/event"
)

var errNotFound = errors.New("socket not found")

// maxCache bounds the per-socket cache; when full it starts afresh.
const maxCache = 4096

// Finder finds processes in one box. Its methods are safe for concurrent
// use.
type Finder struct {
	root  int    // the command htapod started (the box's init)
	netns string // the box's /proc/PID/ns/net link
	uid   int
	diag  *diag // nil: read the socket tables in /proc

	mu     sync.Mutex
	pids   []int                  // the box's processes at the last scan
	owners map[uint64]owner       // socket inode → the process holding it, at the last look
	fds    map[int]*fdTable       // the box's processes' fds, at the last look
	flows  map[flowKey]owner      // the sockets of TCP flows looked up and not yet Released
	procs  map[int]*event.Process // described processes, by pid (checked by Exe)
}

// owner is a socket's holder: a process and the fd it holds it as.
type owner struct{ pid, fd int }

// New returns a Finder for the box whose first process is root. diag, when
// not nil, is a NETLINK_SOCK_DIAG socket opened in the box's network
// namespace (the fast way to find a socket); the Finder uses it and does
// not close it. Without it the Finder reads /proc/PID/net tables.
func New(root int, diag *os.File) (*Finder, error) {
	ns, err := os.Readlink("/proc/" + strconv.Itoa(root) + "/ns/net")
	if err != nil {
		return nil, fmt.Errorf("read network namespace of the box: %w", err)
	}
	f := &Finder{root: root, netns: ns, uid: os.Getuid(), owners: map[uint64]owner{}, fds: map[int]*fdTable{}, flows: map[flowKey]owner{}, procs: map[int]*event.Process{}}
	if diag != nil {
		f.diag = newDiag(diag)
	}
	return f, nil
}

// Lookup returns the process that holds the socket local → remote
// (the box's side of a flow). It never returns nil: a process it could
// not find has Err set.
func (f *Finder) Lookup(proto event.Proto, local, remote netip.AddrPort) *event.Process {
	ino, err := f.inode(proto == event.UDP, local, remote)
	if err != nil {
		return &event.Process{Err: err.Error()}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// The index holds every socket seen at the last look; a socket made
	// since needs a new look at the known processes' fds, and one made by
	// a new process a new list of processes. A burst of new sockets (a
	// program opening a thousand flows) costs a look or two, not one each.
	o, ok := f.owners[ino]
	if !ok || !holds(o.pid, o.fd, ino) {
		if o, ok = f.index(f.pids, ino); !ok {
			f.setPids(f.scanPids())
			o, ok = f.index(f.pids, ino)
		}
	}
	if !ok {
		return &event.Process{Err: errNotFound.Error() + " in a process (it closed the socket or exited)"}
	}
	if proto == event.TCP {
		if len(f.flows) >= maxCache {
			clear(f.flows)
		}
		f.flows[flowKey{local, remote}] = o
	}
	return f.describeCached(o.pid)
}

// flowKey is a TCP flow: the box's side and the remote.
type flowKey struct{ local, remote netip.AddrPort }

// Released says that the command has closed (or reset) its side of the
// TCP flow local → remote, looked up before: most likely its socket is
// closed, and its fd number is where the process's next socket goes (the
// kernel gives the lowest free one). The next lookup reads such fds first,
// which spares a command that keeps many connections and replaces them one
// by one a read of all its sockets.
func (f *Finder) Released(local, remote netip.AddrPort) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := flowKey{local, remote}
	o, ok := f.flows[k]
	if !ok {
		return
	}
	delete(f.flows, k)
	if t := f.fds[o.pid]; t != nil {
		t.release(o.fd)
	}
}

// describeCached describes pid, or returns the description made before
// when the process still runs the same executable.
func (f *Finder) describeCached(pid int) *event.Process {
	exe, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if p, ok := f.procs[pid]; ok && p.Exe == exe {
		return p
	}
	if len(f.procs) >= maxCache {
		clear(f.procs)
	}
	p := f.describe(pid)
	f.procs[pid] = p
	return p
}

// inode finds the socket in the box's tables, read through the command
// or, once it has exited, through any other process of the box.
func (f *Finder) inode(udp bool, local, remote netip.AddrPort) (uint64, error) {
	if f.diag != nil {
		ino, err := f.diag.inode(udp, local, remote)
		if err == nil || errors.Is(err, errNotFound) {
			return ino, err
		}
		// A netlink failure: the tables still work, slowly.
	}
	ino, err := socketInode(f.root, udp, local, remote)
	if err == nil || errors.Is(err, errNotFound) {
		return ino, err
	}
	f.mu.Lock()
	pids := append([]int(nil), f.pids...)
	f.mu.Unlock()
	for _, pid := range pids {
		if pid != f.root && f.inBox(pid) {
			if ino, err = socketInode(pid, udp, local, remote); err == nil || errors.Is(err, errNotFound) {
				return ino, err
			}
		}
	}
	return 0, errNotFound
}

// scanPids lists the box's processes: ours, in the box's network namespace.
func (f *Finder) scanPids() []int {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	var out []int
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		if st, err := os.Stat("/proc/" + n); err != nil || int(statUID(st)) != f.uid {
			continue
		}
		if f.inBox(pid) {
			out = append(out, pid)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(out)))
	return out
}

func (f *Finder) inBox(pid int) bool {
	ns, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/net")
	return err == nil && ns == f.netns
}

// holds says whether pid still has the socket as fd.
func holds(pid, fd int, ino uint64) bool {
	now, err := readSocket("/proc/"+strconv.Itoa(pid)+"/fd/", fd)
	return err == nil && now == ino
}
