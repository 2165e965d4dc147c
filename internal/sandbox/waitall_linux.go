package sandbox

import (
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// pollEvery is how often WaitAll looks for processes left in the box.
const pollEvery = 100 * time.Millisecond

// netNS names the box's network namespace ("net:[4026532301]"), read from
// the init's /proc entry while it is alive. Every process of the box has
// the same one, however it detached (double fork, setsid).
func netNS(pid int) string {
	s, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/net")
	return s
}

// boxProcesses lists the live (not zombie) processes in the namespace ns.
func boxProcesses(ns string) []int {
	if ns == "" {
		return nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := "/proc/" + e.Name()
		if l, err := os.Readlink(dir + "/ns/net"); err != nil || l != ns {
			continue
		}
		if stat, err := os.ReadFile(dir + "/stat"); err == nil {
			// The state follows the parenthesised command name.
			if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
				continue
			}
		}
		pids = append(pids, pid)
	}
	return pids
}

// WaitAll waits, after the command exited, until no process is left in
// the box (daemons the command started), forwarding htapod's signals to
// every one of them meanwhile. It returns at once when none is left.
func (b *Box) WaitAll() {
	if b.ns == "" || len(boxProcesses(b.ns)) == 0 {
		return
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwarded...)
	defer signal.Stop(sigs)
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		select {
		case s := <-sigs:
			for _, pid := range boxProcesses(b.ns) {
				unix.Kill(pid, s.(unix.Signal))
			}
		case <-t.C:
			if len(boxProcesses(b.ns)) == 0 {
				return
			}
		}
	}
}
