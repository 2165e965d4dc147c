package proc

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/htapod/htapod/event"
)

// childEnv makes the test binary a child that opens sockets to the
// addresses given and waits for its stdin to close.
const childEnv = "HTAPOD_PROC_TEST_CHILD"

func TestMain(m *testing.M) {
	if addrs := os.Getenv(childEnv); addrs != "" {
		child(strings.Split(addrs, ","))
		return
	}
	os.Exit(m.Run())
}

// child connects to a TCP address and sends one datagram (unconnected,
// with sendto) to a UDP one, prints both local addresses, and waits.
func child(addrs []string) {
	c, err := net.Dial("tcp", addrs[0])
	if err != nil {
		fmt.Println("error", err)
		return
	}
	u, err := net.ListenUDP("udp", nil)
	if err != nil {
		fmt.Println("error", err)
		return
	}
	if _, err := u.WriteTo([]byte("x"), net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addrs[1]))); err != nil {
		fmt.Println("error", err)
		return
	}
	fmt.Println(c.LocalAddr(), u.LocalAddr().(*net.UDPAddr).Port)
	bufio.NewReader(os.Stdin).ReadString('\n')
}

// newTestFinder finds sockets of this test's own network namespace, with
// sock_diag (diag) or the /proc tables.
func newTestFinder(t testing.TB, diag bool) *Finder {
	t.Helper()
	var sock *os.File
	if diag {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
		if err != nil {
			t.Fatalf("sock_diag socket: %v", err)
		}
		sock = os.NewFile(uintptr(fd), "sock_diag")
		t.Cleanup(func() { sock.Close() })
	}
	f, err := New(os.Getpid(), sock)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return f
}

// ways are the two ways of finding a socket.
var ways = []struct {
	name string
	diag bool
}{{"sock_diag", true}, {"proc tables", false}}

func addrPort(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort()
	case *net.UDPAddr:
		return a.AddrPort()
	}
	return netip.AddrPort{}
}

// TestLookupOwnSockets finds this test's own sockets: TCP and UDP, over
// IPv4 and IPv6, connected and (UDP) not.
func TestLookupOwnSockets(t *testing.T) {
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) { testLookupOwnSockets(t, newTestFinder(t, w.diag)) })
	}
}

func testLookupOwnSockets(t *testing.T, f *Finder) {
	exe, _ := os.Executable()
	tests := []struct {
		name, network, addr string
		connected           bool
	}{
		{"tcp4", "tcp4", "127.0.0.1:0", true},
		{"tcp6", "tcp6", "[::1]:0", true},
		{"udp4 connected", "udp4", "127.0.0.1:0", true},
		{"udp6 connected", "udp6", "[::1]:0", true},
		{"udp4 sendto", "udp4", "127.0.0.1:0", false},
		{"udp6 sendto", "udp6", "[::1]:0", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			local, remote, proto := openPair(t, tt.network, tt.addr, tt.connected)
			p := f.Lookup(proto, local, remote)
			if p.Err != "" || p.PID != os.Getpid() {
				t.Fatalf("Lookup(%s %s → %s) = %+v; want pid %d", proto, local, remote, p, os.Getpid())
			}
			if p.Exe != exe || len(p.Argv) == 0 || len(p.Parents) != 0 {
				t.Errorf("Lookup = exe %q argv %q parents %v; want exe %q, argv, no parents", p.Exe, p.Argv, p.Parents, exe)
			}
			if again := f.Lookup(proto, local, remote); again != p {
				t.Errorf("second Lookup is not the cached one: %+v", again)
			}
		})
	}
}

// openPair opens a socket of network to a listener at addr and returns
// the socket's local and remote address.
func openPair(t *testing.T, network, addr string, connected bool) (local, remote netip.AddrPort, proto event.Proto) {
	t.Helper()
	if strings.HasPrefix(network, "tcp") {
		ln, err := net.Listen(network, addr)
		if err != nil {
			t.Skipf("listen %s: %v", network, err)
		}
		t.Cleanup(func() { ln.Close() })
		c, err := net.Dial(network, ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return addrPort(c.LocalAddr()), addrPort(c.RemoteAddr()), event.TCP
	}
	srv, err := net.ListenPacket(network, addr)
	if err != nil {
		t.Skipf("listen %s: %v", network, err)
	}
	t.Cleanup(func() { srv.Close() })
	dst := addrPort(srv.LocalAddr())
	if connected {
		c, err := net.Dial(network, dst.String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.Write([]byte("x"))
		return addrPort(c.LocalAddr()), dst, event.UDP
	}
	host := "127.0.0.1:0"
	if dst.Addr().Is6() {
		host = "[::1]:0"
	}
	c, err := net.ListenPacket(network, host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.WriteTo([]byte("x"), srv.LocalAddr())
	return addrPort(c.LocalAddr()), dst, event.UDP
}

// TestLookupChild finds the sockets of a grandchild (this test → sh →
// the test binary again) with its parent chain.
func TestLookupChild(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	exe, _ := os.Executable()
	var tcpLocal string
	var udpPort uint16
	cmd := exec.Command(sh, "-c", `"$0" -test.run=NONE; true`, exe)
	cmd.Env = append(os.Environ(), childEnv+"="+ln.Addr().String()+","+udp.LocalAddr().String())
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan string, 1)
	go func() { l, _ := bufio.NewReader(out).ReadString('\n'); ready <- l }()
	var line string
	select {
	case line = <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("child did not start")
	}
	if _, err := fmt.Sscan(line, &tcpLocal, &udpPort); err != nil {
		t.Fatalf("child said %q", line)
	}
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) { testLookupChild(t, newTestFinder(t, w.diag), ln, udp, sh, exe, tcpLocal, udpPort) })
	}
}

func testLookupChild(t *testing.T, f *Finder, ln net.Listener, udp net.PacketConn, sh, exe, tcpLocal string, udpPort uint16) {
	tests := []struct {
		proto         event.Proto
		local, remote netip.AddrPort
	}{
		{event.TCP, netip.MustParseAddrPort(tcpLocal), addrPort(ln.Addr())},
		{event.UDP, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), udpPort), addrPort(udp.LocalAddr())},
	}
	for _, tt := range tests {
		p := f.Lookup(tt.proto, tt.local, tt.remote)
		if p.Err != "" || p.Exe != exe {
			t.Fatalf("Lookup(%s %s → %s) = %+v; want the child %s", tt.proto, tt.local, tt.remote, p, exe)
		}
		want := filepath.Base(exe) + " → " + filepath.Base(sh) + " → " + filepath.Base(exe) + " -test.run=NONE"
		if len(p.Parents) != 2 || p.Parents[0].PID != os.Getpid() || p.Chain() != want {
			t.Errorf("chain = %q (%+v); want %q", p.Chain(), p.Parents, want)
		}
	}
}

func TestLookupNotFound(t *testing.T) {
	for _, w := range ways {
		f := newTestFinder(t, w.diag)
		p := f.Lookup(event.TCP, netip.MustParseAddrPort("127.0.0.1:1"), netip.MustParseAddrPort("127.0.0.1:2"))
		if p == nil || p.Err == "" || p.PID != 0 {
			t.Errorf("Lookup of no socket = %+v; want Err set", p)
		}
		if !strings.HasPrefix(p.Chain(), "process unknown: ") {
			t.Errorf("Chain() = %q", p.Chain())
		}
	}
}

func TestParseHexAddr(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0100007F:1F90", "127.0.0.1:8080"},
		{"00000000000000000000000001000000:0035", "[::1]:53"},
		{"0000000000000000FFFF00000100007F:0050", "[::ffff:127.0.0.1]:80"},
	}
	for _, tt := range tests {
		got, ok := parseHexAddr([]byte(tt.in))
		if !ok || got.String() != tt.want {
			t.Errorf("parseHexAddr(%q) = %v, %v; want %s", tt.in, got, ok, tt.want)
		}
	}
}

// BenchmarkLookupUncached is the cost of a flow's first lookup: the
// socket table, then the fds of the known processes.
func BenchmarkLookupUncached(b *testing.B) {
	f := newTestFinder(b, true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	local, remote := addrPort(c.LocalAddr()), addrPort(c.RemoteAddr())
	for b.Loop() {
		f.mu.Lock()
		clear(f.owners)
		clear(f.procs)
		f.mu.Unlock()
		if p := f.Lookup(event.TCP, local, remote); p.Err != "" {
			b.Fatal(p.Err)
		}
	}
}
