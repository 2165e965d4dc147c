package lab_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/htapod/htapod/internal/lab"
)

// TestClientsInLab checks the lab without htapod: real clients, run as the
// unprivileged user inside the lab, reach the lab's servers by name and
// cannot reach anything else.
func TestClientsInLab(t *testing.T) {
	l := lab.New(t)
	l.StartServers()
	uid, _ := lab.User(t)

	tests := []struct {
		name     string
		argv     []string
		wantExit int
		want     string // stdout, exactly, or its fields if fields is set
		fields   bool
		stdin    []byte
		stderr   string // stderr must contain this
		maxTime  time.Duration
	}{
		{name: "curl by name", argv: []string{"curl", "-sS", "http://www.lab.test/"}, want: lab.IndexHTML},
		{name: "curl IPv6", argv: []string{"curl", "-6", "-sS", "http://[2001:db8::10]/"}, want: lab.IndexHTML},
		{name: "curl search domain", argv: []string{"curl", "-sS", "http://www/"}, want: lab.IndexHTML},
		{name: "curl bytes", argv: []string{"curl", "-sS", "http://www.lab.test/bytes?n=100000"}, want: string(lab.Pattern(100000))},
		{
			name: "curl upload", argv: []string{"curl", "-sS", "--data-binary", "@-", "http://www.lab.test/echo"},
			stdin: lab.Pattern(300000), want: string(lab.Pattern(300000)),
		},
		{name: "dig at lab server", argv: []string{"dig", "+short", "www.lab.test", "@" + lab.DNS4}, want: lab.WWW4 + "\n"},
		{name: "dig via resolv.conf", argv: []string{"dig", "+short", "AAAA", "www.lab.test"}, want: lab.WWW6 + "\n"},
		{name: "dig CNAME chase", argv: []string{"dig", "+short", "alias.lab.test"}, want: "www.lab.test.\n" + lab.WWW4 + "\n"},
		{name: "getent hosts file", argv: []string{"getent", "hosts", lab.HostsOnlyName}, want: lab.API4 + " " + lab.HostsOnlyName + " hosts-only", fields: true},
		{name: "id", argv: []string{"id", "-u"}, want: strconv.Itoa(uid) + "\n"},
		{
			name: "unreachable is sealed", argv: []string{"curl", "-v", "-sS", "http://" + lab.Unreachable4 + "/"},
			wantExit: 7, maxTime: 2 * time.Second, stderr: "Network is unreachable",
		},
		{
			name: "refused", argv: []string{"curl", "-v", "-sS", "http://" + lab.Nameless4 + "/"},
			wantExit: 7, maxTime: 2 * time.Second, stderr: "Connection refused",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res := l.Run(ctx, lab.RunOptions{Stdin: tt.stdin}, tt.argv...)
			if res.ExitCode != tt.wantExit {
				t.Fatalf("%q: %v; want exit %d", tt.argv, res, tt.wantExit)
			}
			got := string(res.Stdout)
			if tt.fields {
				got = strings.Join(strings.Fields(got), " ")
			}
			if tt.wantExit == 0 && got != tt.want {
				t.Errorf("%q stdout = %q; want %q", tt.argv, res.Stdout, tt.want)
			}
			if !strings.Contains(string(res.Stderr), tt.stderr) {
				t.Errorf("%q stderr lacks %q:\n%s", tt.argv, tt.stderr, res.Stderr)
			}
			if tt.maxTime > 0 && res.Duration > tt.maxTime {
				t.Errorf("%q took %v; want at most %v", tt.argv, res.Duration, tt.maxTime)
			}
		})
	}
}

// TestUnreachableMessage pins what "sealed" means: the kernel itself
// refuses to send to an address outside the lab.
func TestUnreachableMessage(t *testing.T) {
	l := lab.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	script := `import socket
s = socket.socket()
try:
    s.connect(("` + lab.Unreachable4 + `", 80))
except OSError as e:
    print(e.strerror)
`
	res := l.Run(ctx, lab.RunOptions{Stdin: []byte(script)}, "/usr/bin/python3", "-")
	if got := strings.TrimSpace(string(res.Stdout)); got != "Network is unreachable" {
		t.Errorf("connect to %s: %q; want %q\n%v", lab.Unreachable4, got, "Network is unreachable", res)
	}
}

// TestEchoServers talks to the echo servers from the test process through
// Dial, which also tests Do.
func TestEchoServers(t *testing.T) {
	l := lab.New(t)
	l.StartServers()
	addr := net.JoinHostPort(lab.WWW4, "7")

	c, err := l.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	msg := bytes.Repeat([]byte("half-close "), 10000)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := got.ReadFrom(c); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), msg) {
		t.Errorf("TCP echo returned %d bytes; want the %d sent", got.Len(), len(msg))
	}

	u, err := l.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := u.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	n, err := u.Read(buf)
	if err != nil || string(buf[:n]) != "ping" {
		t.Errorf("UDP echo = %q, %v; want %q", buf[:n], err, "ping")
	}
}

// TestStartPID checks that Proc.Cmd's PID is the command's own, so that a
// signal sent to it reaches the command and nothing else.
func TestStartPID(t *testing.T) {
	l := lab.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p := l.Start(ctx, lab.RunOptions{}, "sh", "-c", `echo ready; exec sleep 15`)
	if !p.Stdout.WaitFor(ctx, "ready") {
		t.Fatalf("no ready: %v", p.Wait())
	}
	pid := p.Cmd.Process.Pid
	time.Sleep(100 * time.Millisecond) // let sh exec sleep
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil || strings.TrimSpace(string(comm)) != "sleep" {
		t.Errorf("/proc/%d/comm = %q, %v; want sleep", pid, comm, err)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	res := p.Wait()
	if res.Signal != syscall.SIGTERM {
		t.Errorf("after SIGTERM: %v; want killed by SIGTERM", res)
	}
}

// TestNginx checks the nginx helper.
func TestNginx(t *testing.T) {
	l := lab.New(t)
	l.StartNginx(`server { listen 203.0.113.11:8080; location / { return 200 "nginx in the lab\n"; } }`)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res := l.Run(ctx, lab.RunOptions{}, "curl", "-sS", "http://api.lab.test:8080/")
	if res.ExitCode != 0 || string(res.Stdout) != "nginx in the lab\n" {
		t.Errorf("curl nginx: %v", res)
	}
}

// TestNamespacesDistinct checks that two labs do not share anything: a
// server in one is not reachable from the other.
func TestNamespacesDistinct(t *testing.T) {
	a, b := lab.New(t), lab.New(t)
	if a.Name() == b.Name() {
		t.Fatalf("two labs named %q", a.Name())
	}
	a.StartServers()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if res := b.Run(ctx, lab.RunOptions{}, "curl", "-sS", "http://www.lab.test/"); res.ExitCode != 7 {
		t.Errorf("curl in the lab without servers: %v; want exit 7", res)
	}
}
