package lab

import (
	"context"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// UserName is the unprivileged user that lab commands run as. htapod's
// promise is to work without privileges; testing it as root would hide the
// very bugs that matter.
const UserName = "htapod-test"

// userMu serialises the creation of the user between parallel tests.
var userMu sync.Mutex

// User returns the uid and gid of UserName, creating it as a system user
// without a home directory if it does not exist. It fails tb if the user
// cannot be found or made.
func User(tb testing.TB) (uid, gid int) {
	tb.Helper()
	userMu.Lock()
	defer userMu.Unlock()
	u, err := user.Lookup(UserName)
	if err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "useradd", "--system", "--no-create-home",
			"--shell", "/usr/sbin/nologin", UserName).CombinedOutput()
		if err != nil {
			tb.Fatalf("lab: create user %s: %v: %s", UserName, err, strings.TrimSpace(string(out)))
		}
		if u, err = user.Lookup(UserName); err != nil {
			tb.Fatalf("lab: look up user %s after creating it: %v", UserName, err)
		}
	}
	if uid, err = strconv.Atoi(u.Uid); err != nil {
		tb.Fatalf("lab: uid %q of %s: %v", u.Uid, UserName, err)
	}
	if gid, err = strconv.Atoi(u.Gid); err != nil {
		tb.Fatalf("lab: gid %q of %s: %v", u.Gid, UserName, err)
	}
	return uid, gid
}

// Home returns a directory that the unprivileged user owns (mode 0700),
// used as its HOME by Run and Start and as the place for files a test hands
// to a command (reports, scripts). It is made on first use and removed when
// the test ends. It is not under tb.TempDir, whose parents only root may
// enter.
func (l *Lab) Home() string {
	l.tb.Helper()
	l.homeOnce.Do(func() {
		uid, gid := User(l.tb)
		dir, err := os.MkdirTemp("", "htapod-lab-home-")
		if err != nil {
			l.tb.Fatalf("lab: make home: %v", err)
		}
		l.home = dir // removed by teardown from now on
		if err := os.Chown(dir, uid, gid); err != nil {
			l.tb.Fatalf("lab: chown home %s: %v", dir, err)
		}
	})
	if l.home == "" {
		l.tb.Fatalf("lab: no home directory (an earlier call failed)")
	}
	return l.home
}

// WriteFile writes a file named name into Home, owned by the unprivileged
// user, with permissions perm, and returns its path.
func (l *Lab) WriteFile(name string, data []byte, perm os.FileMode) string {
	l.tb.Helper()
	p := l.Home() + "/" + name
	if err := os.WriteFile(p, data, perm); err != nil {
		l.tb.Fatalf("lab: %v", err)
	}
	// WriteFile's perm is filtered by the umask; say exactly what we mean.
	if err := os.Chmod(p, perm); err != nil {
		l.tb.Fatalf("lab: %v", err)
	}
	uid, gid := User(l.tb)
	if err := os.Chown(p, uid, gid); err != nil {
		l.tb.Fatalf("lab: %v", err)
	}
	return p
}
