package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/htapod/htapod/internal/lab"
)

// TestDoctor checks that `htapod doctor` finds nothing wrong in the lab,
// where htapod does work (the other e2e tests show it).
func TestDoctor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if res := e.htapod("doctor"); res.ExitCode != 0 {
		t.Errorf("htapod doctor: %v; want exit 0 on a machine where htapod works", res)
	}
}

// TestTUNNotAccessible hides /dev/net/tun from the user, as on a machine
// where it is mode 0600, and expects a clear failure: htapod's own exit
// status 125 and a message that names the device, from a run and from
// doctor. The device is covered by a root-only file bind-mounted in the
// private mount namespace that `ip netns exec` makes, so nothing outside
// this one command sees it.
func TestTUNNotAccessible(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir, err := os.MkdirTemp("", "htapod-e2e-tun-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	closed := filepath.Join(dir, "tun")
	if err := os.WriteFile(closed, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	uid, gid := lab.User(t)
	// As root: cover the device, then become the user and run htapod.
	script := `mount --bind "$1" /dev/net/tun && shift && exec setpriv --reuid=` + strconv.Itoa(uid) +
		` --regid=` + strconv.Itoa(gid) + ` --init-groups -- "$@"`
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"run", []string{"--", "true"}, 125},
		{"doctor", []string{"doctor"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			argv := append([]string{"sh", "-c", script, "sh", closed, e.bin}, tt.args...)
			res := e.direct(lab.RunOptions{Root: true}, argv...)
			out := string(res.Stdout) + string(res.Stderr)
			if res.ExitCode != tt.want || !strings.Contains(out, "/dev/net/tun") {
				t.Errorf("htapod %q without access to /dev/net/tun: %v; want exit %d and a message naming /dev/net/tun",
					tt.args, res, tt.want)
			}
		})
	}
}

// TestBoxReleased runs htapod eight times in a row in a user namespace
// that allows its user two network namespaces at a time: each run's box
// (its network namespace, with the TUN device, which is persistent and
// goes with the namespace) must be gone after the run, or the third run
// cannot create its box. The kernel frees a namespace in a worker of its
// own, so a run that finds the limit reached is retried for a while
// before that counts as a leak. Nothing may be left in the lab's own
// namespace either.
func TestBoxReleased(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	script := `echo 2 > /proc/sys/user/max_net_namespaces || exit 9
for i in 1 2 3 4 5 6 7 8; do
  n=0
  until "$1" -- true 2>"$HOME/box-released.err"; do
    n=$((n+1)); [ $n -ge 40 ] && { echo "run $i: no box after $n tries"; cat "$HOME/box-released.err"; exit 1; }
    sleep 0.05
  done
done
echo released`
	res := e.direct(lab.RunOptions{}, "unshare", "--user", "--map-root-user", "sh", "-c", script, "sh", e.bin)
	if res.ExitCode != 0 || !strings.Contains(string(res.Stdout), "released") {
		t.Fatalf("eight runs with at most two network namespaces alive: %v; want each run's box released", res)
	}
	links := e.direct(lab.RunOptions{}, "ip", "-o", "link")
	if strings.Contains(string(links.Stdout), "htapod0") {
		t.Errorf("the lab's namespace has a box's TUN after the runs:\n%s", links.Stdout)
	}
}
