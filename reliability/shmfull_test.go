package reliability

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/htapod/htapod/internal/lab"
)

// shmScript mounts a 64 KiB tmpfs on /dev/shm in a mount namespace of its
// own (FILL=1: then fills it), runs "$@" there as the lab user, and prints
// what is left in /dev/shm after it on a "left:" line; it exits with the
// command's status, or 99 if the tmpfs cannot be mounted.
const shmScript = `mount -t tmpfs -o size=65536,mode=1777 tmpfs /dev/shm || exit 99
if [ "$FILL" = 1 ]; then head -c 1048576 /dev/zero >/dev/shm/filler 2>/dev/null; fi
setpriv --reuid="$LAB_UID" --regid="$LAB_GID" --init-groups -- env USER="$LAB_USER" LOGNAME="$LAB_USER" "$@"
rc=$?
echo "left:" $(ls -A /dev/shm)
exit $rc`

// TestRunDirShmFull is TestRunDirFull for the run directory's usual place:
// no XDG_RUNTIME_DIR, so htapod takes /dev/shm, and /dev/shm is full (or
// too small). The same clear error, exit status 125, the command not run,
// nothing left in /dev/shm.
func TestRunDirShmFull(t *testing.T) {
	for _, full := range []bool{true, false} {
		t.Run(map[bool]string{true: "no room", false: "64 KiB"}[full], func(t *testing.T) {
			e := newEnv(t)
			uid, gid := lab.User(t)
			ran := e.path("ran")
			res := e.runDirect(time.Minute, lab.RunOptions{Root: true, Env: []string{
				"FILL=" + map[bool]string{true: "1", false: "0"}[full],
				"LAB_UID=" + strconv.Itoa(uid), "LAB_GID=" + strconv.Itoa(gid), "LAB_USER=" + lab.UserName,
			}}, "unshare", "--mount", "--propagation", "private", "sh", "-c", shmScript, "sh",
				e.bin, "--", "sh", "-c", "touch "+ran)
			if res.ExitCode == 99 {
				t.Skipf("cannot mount a tmpfs on /dev/shm: %v", res)
			}
			stderr := string(res.Stderr)
			t.Logf("htapod with a full /dev/shm: %v", res)
			if res.ExitCode != 125 {
				t.Errorf("htapod exited %d; want 125", res.ExitCode)
			}
			if _, err := os.Stat(ran); err == nil {
				t.Errorf("the command ran without htapod's trust files")
			}
			for _, want := range []string{"/dev/shm", "no space left on device", "XDG_RUNTIME_DIR"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("htapod's error does not mention %q:\n%s", want, stderr)
				}
			}
			want := map[bool]string{true: "left: filler", false: "left:"}[full]
			if got := leftLine(string(res.Stdout)); got != want {
				t.Errorf("/dev/shm after htapod: %q; want %q", got, want)
			}
		})
	}
}

// leftLine is shmScript's "left:" line in out.
func leftLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "left:") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}
