package sandbox

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Check is one finding of Doctor.
type Check struct {
	Name string
	OK   bool
	// Detail says what was found; Fix, when not OK, what to do.
	Detail, Fix string
}

// Doctor checks what htapod needs from this machine: user namespaces, the
// TUN device, and a real box built and torn down. It changes nothing.
func Doctor() []Check {
	checks := []Check{userNSCheck(), tunCheck()}
	return append(checks, boxCheck())
}

func userNSCheck() Check {
	c := Check{Name: "user namespaces", OK: true}
	var details []string
	for _, s := range []struct{ name, bad string }{
		{"kernel/unprivileged_userns_clone", "0"},
		{"user/max_user_namespaces", "0"},
		{"kernel/apparmor_restrict_unprivileged_userns", "1"},
	} {
		if v, ok := readSysctl(s.name); ok {
			details = append(details, fmt.Sprintf("%s=%s", sysctlName(s.name), v))
			if v == s.bad {
				c.OK = false
			}
		}
	}
	c.Detail = strings.Join(details, ", ")
	if !c.OK {
		c.Fix = userNSHint(syscall.EPERM)
	}
	return c
}

func sysctlName(path string) string {
	b := []byte(path)
	for i := range b {
		if b[i] == '/' {
			b[i] = '.'
		}
	}
	return string(b)
}

func tunCheck() Check {
	c := Check{Name: "/dev/net/tun"}
	fi, err := os.Stat("/dev/net/tun")
	if err != nil {
		c.Detail = err.Error()
		c.Fix = stepHint("open /dev/net/tun", syscall.ENOENT)
		return c
	}
	c.Detail = fmt.Sprintf("mode %04o", fi.Mode().Perm())
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		c.Detail += ", cannot open: " + err.Error()
		var errno syscall.Errno
		errors.As(err, &errno)
		c.Fix = stepHint("open /dev/net/tun", errno)
		return c
	}
	unix.Close(fd)
	c.OK, c.Detail = true, c.Detail+", opens for uid "+fmt.Sprint(os.Getuid())
	return c
}

// boxCheck builds a real box around `true`, without a network stack
// behind it, and reports how long that took.
func boxCheck() Check {
	c := Check{Name: "box"}
	start := time.Now()
	b, err := Start(Spec{Argv: []string{"true"}, Env: os.Environ(),
		Addr4: netip.MustParseAddr("10.0.85.2"), Addr6: netip.MustParseAddr("fd68:7461:706f::2")})
	if err != nil {
		c.Detail = err.Error()
		var se *Error
		if errors.As(err, &se) {
			c.Fix = se.Hint
		}
		return c
	}
	defer b.Close()
	if err := b.Go(); err != nil {
		c.Detail = err.Error()
		return c
	}
	st, err := b.Wait()
	if err != nil || st.Code != 0 {
		c.Detail = fmt.Sprintf("`true` in the box ended with status %d (%v)", st.Code, err)
		return c
	}
	c.OK = true
	c.Detail = fmt.Sprintf("built, ran `true`, tore down in %.1f ms", float64(time.Since(start).Microseconds())/1000)
	return c
}
