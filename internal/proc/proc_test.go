package proc

import (
	"bufio"
	"fmt"
	"io"
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
	"github.com/htapod/htapod/internal/testnet"
)

// childEnv makes the test binary a child that opens sockets to the
// addresses given and waits for its stdin to close.
const childEnv = "HTAPOD_PROC_TEST_CHILD"

// dialerEnv makes the test binary a child that opens and closes sockets
// to the address given and files as its stdin says (see dialer).
const dialerEnv = "HTAPOD_PROC_TEST_DIALER"

func TestMain(m *testing.M) {
	if addrs := os.Getenv(childEnv); addrs != "" {
		child(strings.Split(addrs, ","))
		return
	}
	if addr := os.Getenv(dialerEnv); addr != "" {
		dialer(addr)
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

// dialer obeys its stdin, a command a line, and answers each with a line:
// "dial" connects to addr (answer: the local address), "close N" closes
// the Nth connection it made, "file" opens a file, "closefile" closes the
// last file opened (answer: "ok").
func dialer(addr string) {
	var conns []net.Conn
	var files []*os.File
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		cmd, arg, _ := strings.Cut(in.Text(), " ")
		switch cmd {
		case "dial":
			c, err := net.Dial("tcp", addr)
			if err != nil {
				fmt.Println("error", err)
				continue
			}
			conns = append(conns, c)
			fmt.Println(c.LocalAddr())
			continue
		case "close":
			var n int
			fmt.Sscan(arg, &n)
			conns[n].Close()
		case "file":
			f, _ := os.Open(os.DevNull)
			files = append(files, f)
		case "closefile":
			files[len(files)-1].Close()
			files = files[:len(files)-1]
		}
		fmt.Println("ok")
	}
}

// dialerProc is a dialer child and the listener it connects to.
type dialerProc struct {
	pid    int
	remote netip.AddrPort
	in     io.Writer
	out    *bufio.Reader
}

func startDialer(t testing.TB) *dialerProc {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	testnet.ServeConns(t, ln, func(c net.Conn) { io.Copy(io.Discard, c) })
	exe, _ := os.Executable()
	cmd := exec.Command(exe, "-test.run=NONE")
	cmd.Env = append(os.Environ(), dialerEnv+"="+ln.Addr().String())
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	return &dialerProc{cmd.Process.Pid, addrPort(ln.Addr()), stdin, bufio.NewReader(out)}
}

// do sends the dialer one command and returns its answer.
func (d *dialerProc) do(t testing.TB, cmd string) string {
	t.Helper()
	fmt.Fprintln(d.in, cmd)
	l, err := d.out.ReadString('\n')
	l = strings.TrimSpace(l)
	if err != nil || strings.HasPrefix(l, "error") {
		t.Fatalf("dialer %s: %q %v", cmd, l, err)
	}
	return l
}

// dial has the dialer connect, and returns its socket's local address.
func (d *dialerProc) dial(t testing.TB) netip.AddrPort {
	t.Helper()
	return netip.MustParseAddrPort(d.do(t, "dial"))
}

// TestLookupReusedFd finds sockets of a process that opens and closes
// sockets and files between lookups: a socket on a new fd, one on the fd
// of a socket it closed (with and without being told that its flow
// ended), one after being told wrongly, one on the fd of the socket
// found last, one on the fd of a file it closed. The Finder reads again only the fds it has not seen, or was
// told of, so each of these takes a different way.
func TestLookupReusedFd(t *testing.T) {
	d := startDialer(t)
	f := newTestFinder(t, true)
	f.setPids([]int{d.pid})
	lookup := func(what string, local netip.AddrPort) {
		t.Helper()
		if p := f.Lookup(event.TCP, local, d.remote); p.Err != "" || p.PID != d.pid {
			t.Fatalf("%s: Lookup = %+v; want pid %d", what, p, d.pid)
		}
	}
	var locals []netip.AddrPort
	for i := range 3 {
		locals = append(locals, d.dial(t))
		lookup(fmt.Sprintf("socket %d", i), locals[i])
	}
	d.do(t, "close 1")
	lookup("a socket on a closed socket's fd", d.dial(t))
	d.do(t, "close 0")
	f.Released(locals[0], d.remote) // as the relay does at the flow's end
	lookup("a socket on the fd of a flow that ended", d.dial(t))
	f.Released(locals[2], d.remote) // ended, but the fd is still open
	lookup("a socket after a flow's end that freed no fd", d.dial(t))
	d.do(t, "close 5") // the socket just found: a DNS lookup's, say
	lookup("a socket on the fd the last one was found on", d.dial(t))
	d.do(t, "file")
	lookup("a socket after a file", d.dial(t)) // the Finder has seen the file
	d.do(t, "closefile")
	lookup("a socket on a closed file's fd", d.dial(t))
}

// BenchmarkLookupNewSocket is the cost of finding each new socket of a
// process that already holds held connections: one that keeps opening
// more (grow, as a connection pool or a browser does), or one that closes
// one and opens another (churn, as a client sending "Connection: close"
// does), with or without being told first that the closed one's flow
// ended (released; the relay tells it, when the end comes in time).
func BenchmarkLookupNewSocket(b *testing.B) {
	for _, held := range []int{10, 1000} {
		for _, way := range []string{"grow", "churn", "churn-released"} {
			b.Run(fmt.Sprintf("held=%d/%s", held, way), func(b *testing.B) { benchNewSocket(b, held, way) })
		}
	}
}

func benchNewSocket(b *testing.B, held int, way string) {
	d := startDialer(b)
	f := newTestFinder(b, true)
	f.setPids([]int{d.pid})
	var locals []netip.AddrPort // of the dialer's connections, in its order
	for range held {
		locals = append(locals, d.dial(b))
	}
	for _, l := range locals { // as the relay would have
		if p := f.Lookup(event.TCP, l, d.remote); p.Err != "" {
			b.Fatal(p.Err)
		}
	}
	n := 0
	for b.Loop() {
		b.StopTimer()
		if way != "grow" {
			i := n // the oldest still open
			d.do(b, fmt.Sprint("close ", i))
			if way == "churn-released" {
				f.Released(locals[i], d.remote)
			}
		}
		local := d.dial(b)
		locals = append(locals, local)
		n++
		b.StartTimer()
		if p := f.Lookup(event.TCP, local, d.remote); p.Err != "" {
			b.Fatal(p.Err)
		}
	}
}
