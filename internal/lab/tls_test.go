package lab_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/htapod/htapod/internal/lab"
)

// TestPKI checks the lab's certificates: the good one verifies for every
// name and address of the lab, the bad ones fail for the reason they are
// there.
func TestPKI(t *testing.T) {
	l := lab.New(t)
	p := l.PKI()
	data, err := os.ReadFile(p.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := pem.Decode(data); b == nil || !strings.Contains(string(data), "BEGIN CERTIFICATE") {
		t.Fatalf("%s is not a PEM certificate:\n%s", p.CAFile, data)
	}
	verify := func(leaf *x509.Certificate, name string) error {
		_, err := leaf.Verify(x509.VerifyOptions{Roots: p.Pool, DNSName: name})
		return err
	}
	for _, name := range append(append([]string{}, lab.ServerNames...), lab.ServerIPs...) {
		if err := verify(p.Server.Leaf, name); err != nil {
			t.Errorf("Server for %s: %v", name, err)
		}
	}
	tests := []struct {
		name string
		cert *x509.Certificate
		want string // in the error
	}{
		{"expired", p.Expired.Leaf, "expired"},
		{"wrong name", p.WrongName.Leaf, lab.WrongName},
		{"untrusted", p.Untrusted.Leaf, "unknown authority"},
	}
	for _, tt := range tests {
		if err := verify(tt.cert, "www.lab.test"); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Verify(www.lab.test) = %v; want an error that says %q", tt.name, err, tt.want)
		}
	}
}

// TestTLSServers checks the lab's TLS servers without htapod: clients that
// trust the lab's CA get what the servers serve, and refuse the bad
// certificates.
func TestTLSServers(t *testing.T) {
	l := lab.New(t)
	web := l.StartWeb()
	l.StartTLSServers()
	l.StartGRPC()
	l.StartWebSocket()
	client := lab.Client(t)
	ca := l.PKI().CAFile
	port := func(p int) string { return ":" + strconv.Itoa(p) }
	curl := func(args ...string) []string {
		return append([]string{"curl", "-sS", "--max-time", "10", "--cacert", ca}, args...)
	}
	tests := []struct {
		name     string
		argv     []string
		env      []string
		stdin    []byte
		wantExit int
		want     string // stdout, exactly
		contains string // or a part of it
		stderr   string // stderr must contain this
	}{
		{name: "h2", argv: curl("-w", "%{http_version}", "https://www.lab.test/"), want: lab.IndexHTML + "2"},
		{name: "http/1.1", argv: curl("--http1.1", "-w", "%{http_version}", "https://www.lab.test/"), want: lab.IndexHTML + "1.1"},
		{name: "IPv6", argv: curl("-6", "https://www.lab.test/new"), want: lab.NewPage},
		{name: "api", argv: curl("https://api.lab.test/data.json"), want: lab.JSONDoc},
		{name: "no SNI", argv: curl("https://" + lab.WWW4 + "/new"), want: lab.NewPage},
		{name: "redirect", argv: curl("-L", "-w", "%{num_redirects}", "https://www.lab.test/old"), want: lab.NewPage + "1"},
		{name: "gzip", argv: curl("--compressed", "https://www.lab.test/text.txt"), want: lab.TextFile()},
		{name: "gzip header", argv: curl("--http1.1", "--compressed", "-o", "/dev/null", "-D", "-", "https://www.lab.test/text.txt"), contains: "Transfer-Encoding: chunked"},
		{name: "TLS 1.2 only", argv: curl("-v", "https://www.lab.test"+port(lab.PortTLS12)+"/"), want: lab.IndexHTML, stderr: "SSL connection using TLSv1.2"},
		{name: "TLS 1.2 refuses 1.3", argv: curl("--tlsv1.3", "https://www.lab.test"+port(lab.PortTLS12)+"/"), wantExit: 35},
		{name: "TLS 1.3 only", argv: curl("-v", "https://www.lab.test"+port(lab.PortTLS13)+"/"), want: lab.IndexHTML, stderr: "SSL connection using TLSv1.3"},
		{name: "TLS 1.3 refuses 1.2", argv: curl("--tls-max", "1.2", "https://www.lab.test"+port(lab.PortTLS13)+"/"), wantExit: 35},
		{name: "untrusted", argv: curl("https://www.lab.test" + port(lab.PortUntrusted) + "/"), wantExit: 60},
		{name: "expired", argv: curl("https://www.lab.test" + port(lab.PortExpired) + "/"), wantExit: 60},
		{name: "wrong name", argv: curl("https://www.lab.test" + port(lab.PortWrongName) + "/"), wantExit: 60},
		{name: "wrong name insecure", argv: curl("-k", "https://www.lab.test"+port(lab.PortWrongName)+"/"), want: lab.IndexHTML},
		{name: "plain on 443", argv: []string{"nc", "-N", "-w", "10", lab.Plain4, "443"}, stdin: []byte("hello\n"), want: "hello\n"},
		{name: "go get", argv: []string{client, "get", "https://www.lab.test/"}, env: []string{"SSL_CERT_FILE=" + ca}, want: lab.IndexHTML},
		{name: "grpc tls", argv: []string{client, "grpc", "-tls", "www.lab.test" + port(lab.PortGRPCTLS), ""}, env: []string{"SSL_CERT_FILE=" + ca}, want: "SERVING\n"},
		{name: "grpc h2c", argv: []string{client, "grpc", "www.lab.test" + port(lab.PortGRPCH2C), ""}, want: "SERVING\n"},
		{name: "grpc not found", argv: []string{client, "grpc", "www.lab.test" + port(lab.PortGRPCH2C), "nope"}, wantExit: 3, want: "NotFound: unknown service\n"},
		{name: "ws", argv: []string{client, "ws", "ws://www.lab.test" + port(lab.PortWS) + "/echo", "hello"}, want: "hello\n"},
		{name: "wss", argv: []string{client, "ws", "wss://www.lab.test" + port(lab.PortWSS) + "/echo", "hello"}, env: []string{"SSL_CERT_FILE=" + ca}, want: "hello\n"},
		{
			name: "git clone", argv: []string{"sh", "-c", `git clone -q https://www.lab.test/repo.git clone-direct && cat clone-direct/README`},
			env: []string{"GIT_SSL_CAINFO=" + ca}, want: lab.RepoReadme,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res := l.Run(ctx, lab.RunOptions{Env: tt.env, Stdin: tt.stdin}, tt.argv...)
			if res.ExitCode != tt.wantExit {
				log, _ := os.ReadFile(web.Dir + "/error.log")
				t.Fatalf("%q: %v; want exit %d\nnginx error.log:\n%s", tt.argv, res, tt.wantExit, log)
			}
			got := string(res.Stdout)
			if tt.contains != "" && !strings.Contains(got, tt.contains) {
				t.Errorf("%q: stdout lacks %q:\n%s", tt.argv, tt.contains, got)
			}
			if !strings.Contains(string(res.Stderr), tt.stderr) {
				t.Errorf("%q: stderr lacks %q:\n%s", tt.argv, tt.stderr, res.Stderr)
			}
			if tt.contains == "" && (tt.wantExit == 0 || tt.want != "") && got != tt.want {
				t.Errorf("%q: stdout = %.200q; want %.200q", tt.argv, got, tt.want)
			}
		})
	}
}
