package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The lab's addresses. They come from the documentation ranges of RFC 5737
// and RFC 3849, so that no test can ever mean a real host.
const (
	// WWW4 is the IPv4 address of www.lab.test, where StartServers runs
	// HTTP on port 80 and the echo servers on port 7.
	WWW4 = "203.0.113.10"
	// WWW6 is the IPv6 address of www.lab.test (its AAAA record), where
	// StartServers runs HTTP on port 80.
	WWW6 = "2001:db8::10"
	// API4 is the address of api.lab.test and of the /etc/hosts-only name
	// HostsOnlyName.
	API4 = "203.0.113.11"
	// DNS4 is the address of the lab's DNS server, named in the lab's
	// /etc/resolv.conf.
	DNS4 = "203.0.113.53"
	// Plain4 has no name; StartTLSServers runs a plain TCP echo server on
	// its port 443, for bytes to port 443 that are not TLS.
	Plain4 = "203.0.113.12"
	// Nameless4 is in the lab but has neither a name nor a server: a
	// connection to it is refused.
	Nameless4 = "198.51.100.1"
	// Unreachable4 is not in the lab. The lab has no route to it, so a
	// packet to it fails with "network unreachable" and never leaves the
	// machine.
	Unreachable4 = "192.0.2.99"
	// HostsOnlyName is a name that only the lab's /etc/hosts knows (it
	// maps to API4); the lab's DNS server answers NXDOMAIN for it.
	HostsOnlyName = "hosts-only.lab.test"
)

// hostAddrs are the addresses put on the lab's loopback device: every
// "internet host" of the lab.
var hostAddrs = []string{
	WWW4 + "/32",
	API4 + "/32",
	Plain4 + "/32",
	DNS4 + "/32",
	Nameless4 + "/32",
	WWW6 + "/128",
}

// namePrefix starts the name of every lab namespace, so that leftovers of
// crashed runs can be recognised and removed.
const namePrefix = "htapod-lab-"

// labCounter makes namespace names unique within one test binary.
var labCounter atomic.Int64

// staleOnce guards the one sweep of leftovers of earlier, crashed runs.
var staleOnce sync.Once

// A Lab is one sealed network namespace with the lab's addresses and DNS
// server. It belongs to the test that created it: its methods report
// problems with that test's Fatal and register their cleanup with it, so a
// Lab must not be shared between tests. Its methods are safe for concurrent
// use by the goroutines of that test.
type Lab struct {
	tb   testing.TB
	name string
	dns  *DNSServer

	homeOnce sync.Once
	home     string

	pkiOnce sync.Once
	pki     *PKI
}

// New creates a sealed lab for tb, with its DNS server already running, and
// removes it when tb ends. It skips tb, with a message that says how to run
// the lab tests, when the machine cannot host a lab: not root, ip or setpriv
// missing, /dev/net/tun not usable by an unprivileged user, or -short.
func New(tb testing.TB) *Lab {
	tb.Helper()
	if reason := unsupported(); reason != "" {
		tb.Skipf("lab test skipped: %s. Run the lab tests as root with `sudo make test`, "+
			"which installs what they need (scripts/test-setup.sh).", reason)
	}
	staleOnce.Do(removeStale)

	l := &Lab{
		tb:   tb,
		name: fmt.Sprintf("%s%d-%d", namePrefix, os.Getpid(), labCounter.Add(1)),
	}
	// Register the teardown before creating anything, so that a half-made
	// lab is removed too.
	tb.Cleanup(l.teardown)

	if err := ipCmd("netns", "add", l.name); err != nil {
		tb.Fatalf("lab: %v", err)
	}
	if err := ipCmd("-n", l.name, "link", "set", "lo", "up"); err != nil {
		tb.Fatalf("lab: %v", err)
	}
	for _, a := range hostAddrs {
		args := []string{"-n", l.name, "addr", "add", a, "dev", "lo"}
		if strings.Contains(a, ":") {
			args = append(args, "nodad")
		}
		if err := ipCmd(args...); err != nil {
			tb.Fatalf("lab: %v", err)
		}
	}
	if err := l.writeEtc(); err != nil {
		tb.Fatalf("lab: %v", err)
	}
	l.dns = l.startDNS()
	return l
}

// Name is the name of the lab's network namespace, as `ip netns` knows it.
func (l *Lab) Name() string { return l.name }

// EtcDir is the directory whose resolv.conf and hosts `ip netns exec`
// mounts over /etc/resolv.conf and /etc/hosts inside the lab.
func (l *Lab) EtcDir() string { return filepath.Join("/etc/netns", l.name) }

// ResolvConf is the content of the lab's /etc/resolv.conf.
const ResolvConf = "nameserver " + DNS4 + "\nsearch lab.test\noptions timeout:2 attempts:2\n"

// Hosts is the content of the lab's /etc/hosts.
const Hosts = "127.0.0.1\tlocalhost\n" +
	"::1\tlocalhost ip6-localhost ip6-loopback\n" +
	API4 + "\t" + HostsOnlyName + " hosts-only\n"

// writeEtc writes the files that `ip netns exec` bind-mounts over /etc.
func (l *Lab) writeEtc() error {
	dir := l.EtcDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	files := map[string]string{"resolv.conf": ResolvConf, "hosts": Hosts}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
	}
	return nil
}

// teardown deletes the namespace, its /etc/netns directory and the home
// directory. Servers were stopped before, by their own cleanups, which run
// first because they were registered later.
func (l *Lab) teardown() {
	var errs []error
	if _, err := os.Stat(filepath.Join("/var/run/netns", l.name)); err == nil {
		errs = append(errs, ipCmd("netns", "delete", l.name))
	}
	errs = append(errs, os.RemoveAll(l.EtcDir()))
	if l.home != "" {
		errs = append(errs, os.RemoveAll(l.home))
	}
	if err := errors.Join(errs...); err != nil {
		l.tb.Errorf("lab teardown: %v", err)
	}
}

// unsupported says why this machine cannot host a lab, or "" if it can.
func unsupported() string {
	if testing.Short() {
		return "-short is set"
	}
	if os.Geteuid() != 0 {
		return "not running as root"
	}
	for _, tool := range []string{"ip", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " is not installed"
		}
	}
	fi, err := os.Stat("/dev/net/tun")
	if err != nil {
		return "/dev/net/tun does not exist"
	}
	if fi.Mode()&os.ModeCharDevice == 0 {
		return "/dev/net/tun is not a character device"
	}
	if perm := fi.Mode().Perm(); perm&0o006 != 0o006 {
		return fmt.Sprintf("/dev/net/tun has mode %04o, so the unprivileged test user cannot open it "+
			"(sudo chmod 0666 /dev/net/tun)", perm)
	}
	return ""
}

// staleName matches lab namespace names (and their uplinks', AddUplink) and
// captures the creating PID.
var staleName = regexp.MustCompile(`^` + namePrefix + `(\d+)-\d+(-gw)?$`)

// removeStale deletes the lab namespaces of test binaries that are no
// longer running, left behind by a run that was killed before its cleanup.
// Namespaces of live processes, and anything not named by this package, are
// left alone.
func removeStale() {
	entries, err := os.ReadDir("/var/run/netns")
	if err != nil {
		return
	}
	for _, e := range entries {
		m := staleName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			continue
		}
		_ = ipCmd("netns", "delete", e.Name())
		_ = os.RemoveAll(filepath.Join("/etc/netns", e.Name()))
	}
}

// ipCmd runs ip(8) with args, bounded in time, and returns its output in
// the error when it fails.
func ipCmd(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
