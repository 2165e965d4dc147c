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
