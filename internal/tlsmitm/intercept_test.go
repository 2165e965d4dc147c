package tlsmitm

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/htapod/htapod/event"
)

// ioTimeout bounds every socket of these tests: nothing waits longer.
const ioTimeout = 10 * time.Second

// testUpstream is a real crypto/tls server on 127.0.0.1 that serves one
// connection: after the handshake it reads a line and answers
// "pong: " + line, then waits for the peer to close.
type testUpstream struct {
	addr   netip.AddrPort
	keyLog *syncBuffer
	// handshake receives the result of the server's handshake.
	handshake chan error
}

// newTestUpstream starts an upstream with cfg (cloned; its KeyLogWriter
// is the upstream's keyLog). It stops at the end of the test.
func newTestUpstream(tb testing.TB, cfg *tls.Config) *testUpstream {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	u := &testUpstream{
		addr:      ln.Addr().(*net.TCPAddr).AddrPort(),
		keyLog:    &syncBuffer{},
		handshake: make(chan error, 1),
	}
	cfg = cfg.Clone()
	cfg.KeyLogWriter = u.keyLog
	var (
		mu   sync.Mutex
		conn net.Conn
	)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		c, err := ln.Accept()
		if err != nil {
			u.handshake <- err
			return
		}
		mu.Lock()
		conn = c
		mu.Unlock()
		defer c.Close()
		c.SetDeadline(time.Now().Add(ioTimeout))
		tc := tls.Server(c, cfg)
		if err := tc.Handshake(); err != nil {
			u.handshake <- err
			return
		}
		u.handshake <- nil
		line, err := bufio.NewReader(tc).ReadString('\n')
		if err != nil {
			return
		}
		tc.Write([]byte("pong: " + line))
		io.Copy(io.Discard, tc)
	}()
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		if conn != nil {
			conn.Close()
		}
		mu.Unlock()
		<-exited
	})
	return u
}

// interception is the outcome of one Intercept between a client and an
// upstream.
type interception struct {
	sess      *Session
	err       error
	client    *tls.Conn // the command's end of the client leg
	clientErr error     // the client's handshake result
	clientLog *syncBuffer
}

// intercept connects a crypto/tls client (clientCfg) over loopback TCP,
// dials up, and runs Intercept with icfg, sni and alpn; it returns when
// both Intercept and the client's handshake are done.
func intercept(t *testing.T, up *testUpstream, icfg Config, clientCfg *tls.Config, sni string, alpn []string) *interception {
	t.Helper()
	if icfg.HandshakeTimeout == 0 {
		icfg.HandshakeTimeout = ioTimeout
	}
	return interceptWith(t, New(icfg), up, clientCfg, sni, alpn)
}

// interceptWith is intercept with an Interceptor of the caller's (one
// that has intercepted before).
func interceptWith(t *testing.T, i *Interceptor, up *testUpstream, clientCfg *tls.Config, sni string, alpn []string) *interception {
	t.Helper()
	fl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	raw, err := net.Dial("tcp", fl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	raw.SetDeadline(time.Now().Add(ioTimeout))
	inner, err := fl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inner.Close() })
	inner.SetDeadline(time.Now().Add(ioTimeout))
	srv, err := net.Dial("tcp", up.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	srv.SetDeadline(time.Now().Add(ioTimeout))

	r := &interception{clientLog: &syncBuffer{}}
	clientCfg = clientCfg.Clone()
	clientCfg.KeyLogWriter = r.clientLog
	r.client = tls.Client(raw, clientCfg)
	clientDone := make(chan error, 1)
	go func() { clientDone <- r.client.Handshake() }()

	r.sess, r.err = i.Intercept(context.Background(), inner, srv, Offer{SNI: sni, ALPN: alpn}, up.addr)
	select {
	case r.clientErr = <-clientDone:
	case <-time.After(2 * ioTimeout):
		t.Fatal("the client's handshake did not end")
	}
	return r
}

// exchange sends a line from the client through the session to the
// upstream and its answer back, and checks both arrive unchanged.
func (r *interception) exchange(t *testing.T) {
	t.Helper()
	const ping, pong = "ping\n", "pong: ping\n"
	if _, err := r.client.Write([]byte(ping)); err != nil {
		t.Fatalf("client Write: %v", err)
	}
	up := make([]byte, len(ping))
	if _, err := io.ReadFull(r.sess.Client, up); err != nil || string(up) != ping {
		t.Fatalf("Session.Client read = %q, %v; want %q", up, err, ping)
	}
	if _, err := r.sess.Server.Write(up); err != nil {
		t.Fatalf("Session.Server Write: %v", err)
	}
	down := make([]byte, len(pong))
	if _, err := io.ReadFull(r.sess.Server, down); err != nil || string(down) != pong {
		t.Fatalf("Session.Server read = %q, %v; want %q", down, err, pong)
	}
	if _, err := r.sess.Client.Write(down); err != nil {
		t.Fatalf("Session.Client Write: %v", err)
	}
	got := make([]byte, len(pong))
	if _, err := io.ReadFull(r.client, got); err != nil || string(got) != pong {
		t.Fatalf("client read = %q, %v; want %q", got, err, pong)
	}
}

// interceptFixture is a test CA, an upstream certificate it signed for
// upstream.test, www.upstream.test and 127.0.0.1, and an htapod authority.
type interceptFixture struct {
	ca   *testCA
	cert tls.Certificate
	auth *Authority
}

func newInterceptFixture(tb testing.TB) *interceptFixture {
	tb.Helper()
	ca := newTestCA(tb, "test upstream ca")
	return &interceptFixture{
		ca:   ca,
		cert: ca.issueValid(tb, []string{"upstream.test", "www.upstream.test"}, []net.IP{net.IPv4(127, 0, 0, 1)}),
		auth: newTestAuthority(tb),
	}
}

func TestInterceptNegotiates(t *testing.T) {
	fx := newInterceptFixture(t)
	tests := []struct {
		name             string
		serverProtos     []string
		serverMin        uint16
		serverMax        uint16
		clientProtos     []string
		wantALPN         string
		wantUpstreamVers uint16
	}{
		{name: "server http/1.1 only", serverProtos: []string{"http/1.1"}, clientProtos: []string{"h2", "http/1.1"}, wantALPN: "http/1.1", wantUpstreamVers: tls.VersionTLS13},
		{name: "server h2", serverProtos: []string{"h2", "http/1.1"}, clientProtos: []string{"h2", "http/1.1"}, wantALPN: "h2", wantUpstreamVers: tls.VersionTLS13},
		// crypto/tls servers choose by their own preference.
		{name: "server prefers http/1.1", serverProtos: []string{"http/1.1", "h2"}, clientProtos: []string{"h2", "http/1.1"}, wantALPN: "http/1.1", wantUpstreamVers: tls.VersionTLS13},
		{name: "server without ALPN", clientProtos: []string{"h2", "http/1.1"}, wantALPN: "", wantUpstreamVers: tls.VersionTLS13},
		{name: "client without ALPN", serverProtos: []string{"h2", "http/1.1"}, wantALPN: "", wantUpstreamVers: tls.VersionTLS13},
		{name: "TLS 1.2 server", serverMax: tls.VersionTLS12, serverProtos: []string{"h2"}, clientProtos: []string{"h2", "http/1.1"}, wantALPN: "h2", wantUpstreamVers: tls.VersionTLS12},
		{name: "TLS 1.2 server without ALPN", serverMax: tls.VersionTLS12, clientProtos: []string{"h2", "http/1.1"}, wantALPN: "", wantUpstreamVers: tls.VersionTLS12},
		{name: "TLS 1.3 only server", serverMin: tls.VersionTLS13, serverProtos: []string{"http/1.1"}, clientProtos: []string{"http/1.1"}, wantALPN: "http/1.1", wantUpstreamVers: tls.VersionTLS13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newTestUpstream(t, &tls.Config{
				Certificates: []tls.Certificate{fx.cert},
				NextProtos:   tt.serverProtos,
				MinVersion:   tt.serverMin,
				MaxVersion:   tt.serverMax,
			})
			r := intercept(t, up, Config{Authority: fx.auth, Roots: fx.ca.pool},
				&tls.Config{ServerName: "upstream.test", RootCAs: poolOf(fx.auth), NextProtos: tt.clientProtos},
				"upstream.test", tt.clientProtos)
			if r.err != nil {
				t.Fatalf("Intercept(%s) error = %v; want nil", tt.name, r.err)
			}
			if r.clientErr != nil {
				t.Fatalf("client handshake error = %v; want nil", r.clientErr)
			}
			cs := r.client.ConnectionState()
			if cs.NegotiatedProtocol != tt.wantALPN {
				t.Errorf("client ALPN = %q; want %q (the server's choice)", cs.NegotiatedProtocol, tt.wantALPN)
			}
			if r.sess.ALPN != tt.wantALPN {
				t.Errorf("Session.ALPN = %q; want %q", r.sess.ALPN, tt.wantALPN)
			}
			if got := r.sess.Server.ConnectionState().NegotiatedProtocol; got != tt.wantALPN {
				t.Errorf("upstream leg ALPN = %q; want %q", got, tt.wantALPN)
			}
			if got := r.sess.Server.ConnectionState().Version; got != tt.wantUpstreamVers {
				t.Errorf("upstream leg version = %s; want %s", VersionName(got), VersionName(tt.wantUpstreamVers))
			}
			if r.sess.Version != cs.Version {
				t.Errorf("Session.Version = %s; want the client's %s", VersionName(r.sess.Version), VersionName(cs.Version))
			}
			r.exchange(t)
		})
	}
}

func TestInterceptLeafNames(t *testing.T) {
	ca := newTestCA(t, "test upstream ca")
	auth := newTestAuthority(t)
	lo := []net.IP{net.IPv4(127, 0, 0, 1)}
	tests := []struct {
		name      string
		cert      tls.Certificate
		insecure  bool
		sni       string
		wantNames []string
		wantIPs   []string
	}{
		{
			name:      "SNI in the certificate",
			cert:      ca.issueValid(t, []string{"upstream.test", "www.upstream.test"}, lo),
			sni:       "upstream.test",
			wantNames: []string{"upstream.test", "www.upstream.test"},
			wantIPs:   []string{"127.0.0.1"},
		},
		{
			name:      "SNI not in the certificate (insecure)",
			cert:      ca.issueValid(t, []string{"upstream.test"}, nil),
			insecure:  true,
			sni:       "other.test",
			wantNames: []string{"other.test", "upstream.test"},
		},
		{
			name:      "no SNI: the address dialled",
			cert:      ca.issueValid(t, []string{"upstream.test"}, lo),
			wantNames: []string{"upstream.test"},
			wantIPs:   []string{"127.0.0.1"},
		},
		{
			name:      "no SNI, no IP in the certificate (insecure)",
			cert:      ca.issueValid(t, []string{"upstream.test"}, nil),
			insecure:  true,
			wantNames: []string{"upstream.test"},
			wantIPs:   []string{"127.0.0.1"},
		},
		{
			name:      "common name only (insecure)",
			cert:      ca.issue(t, "legacy.test", nil, nil, time.Now().Add(-time.Hour), time.Now().Add(time.Hour)),
			insecure:  true,
			sni:       "legacy.test",
			wantNames: []string{"legacy.test"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newTestUpstream(t, &tls.Config{Certificates: []tls.Certificate{tt.cert}})
			// Go's client sends no SNI for an IP address.
			serverName := tt.sni
			if serverName == "" {
				serverName = "127.0.0.1"
			}
			r := intercept(t, up, Config{Authority: auth, Roots: ca.pool, Insecure: tt.insecure},
				&tls.Config{ServerName: serverName, RootCAs: poolOf(auth)}, tt.sni, nil)
			if r.err != nil || r.clientErr != nil {
				t.Fatalf("Intercept(sni %q) error = %v, client error = %v; want nil, nil", tt.sni, r.err, r.clientErr)
			}
			leaf := r.client.ConnectionState().PeerCertificates[0]
			if got := slices.Sorted(slices.Values(leaf.DNSNames)); !slices.Equal(got, tt.wantNames) {
				t.Errorf("minted leaf DNS names = %q; want %q", got, tt.wantNames)
			}
			if got := ipStrings(leaf.IPAddresses); !slices.Equal(got, tt.wantIPs) {
				t.Errorf("minted leaf IPs = %q; want %q", got, tt.wantIPs)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{DNSName: serverName, Roots: poolOf(auth)}); err != nil {
				t.Errorf("minted leaf does not verify for %s: %v", serverName, err)
			}
			r.exchange(t)
		})
	}
}

func TestInterceptUpstreamRefused(t *testing.T) {
	ca := newTestCA(t, "test upstream ca")
	other := newTestCA(t, "someone else's ca")
	auth := newTestAuthority(t)
	names := []string{"upstream.test"}
	lo := []net.IP{net.IPv4(127, 0, 0, 1)}
	tests := []struct {
		name string
		cert tls.Certificate
		sni  string
	}{
		{name: "untrusted", cert: other.issueValid(t, names, lo), sni: "upstream.test"},
		{name: "expired", cert: ca.issue(t, "upstream.test", names, lo, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)), sni: "upstream.test"},
		{name: "not yet valid", cert: ca.issue(t, "upstream.test", names, lo, time.Now().Add(24*time.Hour), time.Now().Add(48*time.Hour)), sni: "upstream.test"},
		{name: "wrong name", cert: ca.issueValid(t, names, nil), sni: "wrong.test"},
		{name: "wrong address", cert: ca.issueValid(t, names, []net.IP{net.IPv4(192, 0, 2, 1)})},
	}
	for _, tt := range tests {
		serverName := tt.sni
		if serverName == "" {
			serverName = "127.0.0.1"
		}
		clientCfg := &tls.Config{ServerName: serverName, RootCAs: poolOf(auth)}
		t.Run(tt.name, func(t *testing.T) {
			up := newTestUpstream(t, &tls.Config{Certificates: []tls.Certificate{tt.cert}})
			r := intercept(t, up, Config{Authority: auth, Roots: ca.pool}, clientCfg, tt.sni, nil)
			var e *Error
			if !errors.As(r.err, &e) || e.Leg != "upstream" {
				t.Fatalf("Intercept(%s) error = %#v; want *Error with Leg upstream", tt.name, r.err)
			}
			if r.sess != nil {
				t.Errorf("Intercept(%s) session = %v; want nil with an error", tt.name, r.sess)
			}
			var cve *tls.CertificateVerificationError
			if !errors.As(r.err, &cve) {
				t.Errorf("Intercept(%s) error = %v; want it to wrap *tls.CertificateVerificationError", tt.name, r.err)
			}
			if !strings.HasPrefix(e.Error(), "upstream: ") {
				t.Errorf("Error() = %q; want it to start with %q", e.Error(), "upstream: ")
			}
			if r.clientErr == nil || !strings.Contains(r.clientErr.Error(), "remote error: tls:") {
				t.Errorf("client handshake error = %v; want an alert from htapod", r.clientErr)
			}
		})
		t.Run(tt.name+" insecure", func(t *testing.T) {
			up := newTestUpstream(t, &tls.Config{Certificates: []tls.Certificate{tt.cert}})
			r := intercept(t, up, Config{Authority: auth, Roots: ca.pool, Insecure: true}, clientCfg, tt.sni, nil)
			if r.err != nil || r.clientErr != nil {
				t.Fatalf("Intercept(%s, Insecure) error = %v, client error = %v; want nil, nil", tt.name, r.err, r.clientErr)
			}
			r.exchange(t)
		})
	}
}

func TestInterceptClientRefuses(t *testing.T) {
	fx := newInterceptFixture(t)
	someoneElse := newTestCA(t, "the client's own ca")
	for _, maxVers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(VersionName(maxVers), func(t *testing.T) {
			up := newTestUpstream(t, &tls.Config{Certificates: []tls.Certificate{fx.cert}})
			r := intercept(t, up, Config{Authority: fx.auth, Roots: fx.ca.pool},
				&tls.Config{ServerName: "upstream.test", RootCAs: someoneElse.pool, MaxVersion: maxVers},
				"upstream.test", nil)
			if r.clientErr == nil {
				t.Fatalf("client that trusts another CA: handshake error = nil; want a verification error")
			}
			var e *Error
			if !errors.As(r.err, &e) || e.Leg != "client" {
				t.Fatalf("Intercept error = %#v; want *Error with Leg client", r.err)
			}
			if e.Alert == "" {
				t.Errorf("Error.Alert = %q; want the client's alert (crypto/tls sends bad_certificate)", e.Alert)
			}
			if !strings.Contains(e.Alert, "certificate") {
				t.Errorf("Error.Alert = %q; want it to name a certificate alert", e.Alert)
			}
			if msg := e.Error(); !strings.Contains(msg, e.Alert) || !strings.Contains(msg, "--passthrough") {
				t.Errorf("Error() = %q; want the alert %q and the --passthrough advice", msg, e.Alert)
			}
			if e.Unwrap() == nil {
				t.Errorf("Error.Unwrap() = nil; want the handshake error")
			}
		})
	}
}

// labels are the labels of lines, sorted and unique.
func labels(lines []keyLogLine) []string {
	var out []string
	for _, l := range lines {
		out = append(out, l.label)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// lineSet is lines as sorted strings.
func lineSet(lines []keyLogLine) []string {
	var out []string
	for _, l := range lines {
		out = append(out, l.label+" "+l.random+" "+l.secret)
	}
	slices.Sort(out)
	return out
}

func TestInterceptKeyLog(t *testing.T) {
	fx := newInterceptFixture(t)
	tests := []struct {
		name                 string
		keyLog, clientKeyLog bool
		maxVers              uint16
		wantLabel            string // a label the client leg's lines must include
	}{
		{name: "both TLS 1.3", keyLog: true, clientKeyLog: true, maxVers: tls.VersionTLS13, wantLabel: "CLIENT_TRAFFIC_SECRET_0"},
		{name: "both TLS 1.2", keyLog: true, clientKeyLog: true, maxVers: tls.VersionTLS12, wantLabel: "CLIENT_RANDOM"},
		{name: "KeyLog only", keyLog: true, maxVers: tls.VersionTLS13, wantLabel: "CLIENT_TRAFFIC_SECRET_0"},
		{name: "ClientKeyLog only", clientKeyLog: true, maxVers: tls.VersionTLS13, wantLabel: "CLIENT_TRAFFIC_SECRET_0"},
		{name: "ClientKeyLog only TLS 1.2", clientKeyLog: true, maxVers: tls.VersionTLS12, wantLabel: "CLIENT_RANDOM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newTestUpstream(t, &tls.Config{Certificates: []tls.Certificate{fx.cert}, MaxVersion: tt.maxVers})
			keyLog, clientKeyLog := &syncBuffer{}, &syncBuffer{}
			cfg := Config{Authority: fx.auth, Roots: fx.ca.pool}
			if tt.keyLog {
				cfg.KeyLog = keyLog
			}
			if tt.clientKeyLog {
				cfg.ClientKeyLog = clientKeyLog
			}
			r := intercept(t, up, cfg,
				&tls.Config{ServerName: "upstream.test", RootCAs: poolOf(fx.auth), MaxVersion: tt.maxVers},
				"upstream.test", nil)
			if r.err != nil || r.clientErr != nil {
				t.Fatalf("Intercept error = %v, client error = %v; want nil, nil", r.err, r.clientErr)
			}
			r.exchange(t)
			if err := <-up.handshake; err != nil {
				t.Fatalf("upstream handshake: %v", err)
			}

			// The client and the upstream log their own secrets: they
			// are what htapod's two legs must log.
			clientLeg := parseKeyLog(t, r.clientLog.String())
			upLeg := parseKeyLog(t, up.keyLog.String())
			if !slices.Contains(labels(clientLeg), tt.wantLabel) {
				t.Fatalf("the client logged labels %q; want %s (test setup)", labels(clientLeg), tt.wantLabel)
			}

			gotClient := parseKeyLog(t, clientKeyLog.String())
			if tt.clientKeyLog {
				if got, want := lineSet(gotClient), lineSet(clientLeg); !slices.Equal(got, want) {
					t.Errorf("ClientKeyLog lines =\n%q\nwant the client leg's\n%q", got, want)
				}
				for _, l := range gotClient {
					if l.random == upLeg[0].random {
						t.Errorf("ClientKeyLog has a line of the upstream leg: %s %s", l.label, l.random)
					}
				}
			} else if len(gotClient) > 0 {
				t.Errorf("ClientKeyLog (not configured) got %d lines", len(gotClient))
			}

			got := parseKeyLog(t, keyLog.String())
			if tt.keyLog {
				want := lineSet(append(slices.Clone(clientLeg), upLeg...))
				if got := lineSet(got); !slices.Equal(got, want) {
					t.Errorf("KeyLog lines =\n%q\nwant both legs'\n%q", got, want)
				}
			} else if len(got) > 0 {
				t.Errorf("KeyLog (not configured) got %d lines", len(got))
			}
		})
	}
}

func TestInterceptHandshakeTimeout(t *testing.T) {
	auth := newTestAuthority(t)
	// An upstream that accepts and never speaks.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	t.Cleanup(func() {
		select {
		case c := <-accepted:
			c.Close()
		default:
		}
	})
	up := &testUpstream{addr: ln.Addr().(*net.TCPAddr).AddrPort()}

	start := time.Now()
	r := intercept(t, up, Config{Authority: auth, HandshakeTimeout: 300 * time.Millisecond},
		&tls.Config{ServerName: "silent.test", RootCAs: poolOf(auth)}, "silent.test", nil)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Intercept with a silent upstream took %v; want about HandshakeTimeout (300ms)", took)
	}
	var e *Error
	if !errors.As(r.err, &e) || e.Leg != "upstream" || !errors.Is(r.err, context.DeadlineExceeded) {
		t.Errorf("Intercept(silent upstream) error = %v; want *Error Leg upstream wrapping context.DeadlineExceeded", r.err)
	}
	if r.clientErr == nil {
		t.Errorf("client handshake with a silent upstream: error = nil; want a failure")
	}
}

func TestVersionName(t *testing.T) {
	tests := []struct {
		in   uint16
		want string
	}{
		{tls.VersionTLS10, "TLS 1.0"},
		{tls.VersionTLS11, "TLS 1.1"},
		{tls.VersionTLS12, "TLS 1.2"},
		{tls.VersionTLS13, "TLS 1.3"},
		{0x0300, "0x0300"},
		{0xfefd, "0xfefd"},
	}
	for _, tt := range tests {
		if got := VersionName(tt.in); got != tt.want {
			t.Errorf("VersionName(%#04x) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// TestAlertNames checks that an alert is named the same way whether the
// client sent it encrypted (crypto/tls reports "remote error: tls: X") or
// in plaintext during TLS 1.3 (OpenSSL), so Error.Alert reads alike.
func TestAlertNames(t *testing.T) {
	t.Run("alertOf", func(t *testing.T) {
		tests := []struct {
			err  error
			want string
		}{
			{errors.New("remote error: tls: bad certificate"), "bad certificate"},
			{&net.OpError{Op: "remote error", Err: errors.New("tls: unknown certificate authority")}, "unknown certificate authority"},
			{errors.New("EOF"), ""},
			{tls.AlertError(48), "unknown certificate authority"},
		}
		for _, tt := range tests {
			if got := alertOf(tt.err); got != tt.want {
				t.Errorf("alertOf(%v) = %q; want %q", tt.err, got, tt.want)
			}
		}
	})
	t.Run("plainAlert", func(t *testing.T) {
		tests := []struct {
			name string
			last []byte
			want string
		}{
			{"unknown_ca", []byte{21, 3, 3, 0, 2, 2, 48}, "unknown certificate authority"},
			{"bad_certificate after other bytes", []byte{23, 3, 3, 0, 1, 0, 21, 3, 3, 0, 2, 2, 42}, "bad certificate"},
			{"application data", []byte{23, 3, 3, 0, 2, 2, 48}, ""},
			{"too short", []byte{21, 3, 3, 0, 2, 2}, ""},
			{"wrong length", []byte{21, 3, 3, 0, 3, 2, 48}, ""},
		}
		for _, tt := range tests {
			l := &lastRead{last: tt.last}
			if got := l.plainAlert(); got != tt.want {
				t.Errorf("plainAlert(%s % x) = %q; want %q", tt.name, tt.last, got, tt.want)
			}
		}
	})
}

// TestInterceptOpenSSLClientRefuses runs openssl s_client, which trusts
// only another CA, against Intercept: OpenSSL ends a TLS 1.3 handshake
// with an unencrypted alert, which crypto/tls cannot decrypt; Error.Alert
// must still name it, as it does for TLS 1.2.
func TestInterceptOpenSSLClientRefuses(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	fx := newInterceptFixture(t)
	otherCA := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(otherCA, newTestCA(t, "openssl's own ca").certPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, vers := range []string{"-tls1_2", "-tls1_3"} {
		t.Run(vers, func(t *testing.T) {
			up := newTestUpstream(t, &tls.Config{Certificates: []tls.Certificate{fx.cert}})
			fl, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer fl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", fl.Addr().String(),
				"-servername", "upstream.test", "-CAfile", otherCA, "-verify_return_error", vers)
			cmd.Stdin = strings.NewReader("")
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			fl.(*net.TCPListener).SetDeadline(time.Now().Add(ioTimeout))
			inner, err := fl.Accept()
			if err != nil {
				t.Fatalf("accept openssl: %v\n%s", err, out.String())
			}
			defer inner.Close()
			srv, err := net.Dial("tcp", up.addr.String())
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			_, err = New(Config{Authority: fx.auth, Roots: fx.ca.pool, HandshakeTimeout: ioTimeout}).
				Intercept(ctx, inner, srv, Offer{SNI: "upstream.test"}, up.addr)
			var e *Error
			if !errors.As(err, &e) || e.Leg != "client" {
				t.Fatalf("Intercept(openssl %s) error = %v; want *Error Leg client", vers, err)
			}
			if want := "unknown certificate authority"; e.Alert != want {
				t.Errorf("Intercept(openssl %s) Alert = %q; want %q", vers, e.Alert, want)
			}
		})
	}
}

// TestOfferCurves checks the upstream leg's key exchange: a client that
// offered only classical groups gets them upstream too (no hybrid key
// generated for nothing); one that offered a hybrid, or whose groups are
// unknown, gets crypto/tls's defaults.
func TestOfferCurves(t *testing.T) {
	classical := []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384, tls.CurveP521}
	for _, tc := range []struct {
		name   string
		groups []uint16
		want   []tls.CurveID
	}{
		{"unknown", nil, nil},
		{"openssl 3.0", []uint16{29, 23, 30, 25, 24, 256, 257}, classical},
		{"grease and x25519", []uint16{0x2a2a, 29, 23}, classical},
		{"hybrid offered", []uint16{0x2a2a, uint16(tls.X25519MLKEM768), 29, 23}, nil},
		{"unknown group", []uint16{29, 0x6399}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (Offer{Groups: tc.groups}).curves(); !slices.Equal(got, tc.want) {
				t.Errorf("curves() = %v; want %v", got, tc.want)
			}
		})
	}
}

// TestInterceptResumesUpstream checks that the upstream leg resumes the TLS
// session of an earlier flow to the same server (as a command's own
// client would with a session cache): a command that opens a connection
// per request costs one full upstream handshake, not one per request.
// The real server's certificate is still reported on the resumed flow.
func TestInterceptResumesUpstream(t *testing.T) {
	fx := newInterceptFixture(t)
	for _, vers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(VersionName(vers), func(t *testing.T) {
			srvCfg := &tls.Config{Certificates: []tls.Certificate{fx.cert}, MaxVersion: vers}
			srvCfg.SetSessionTicketKeys([][32]byte{{1, 2, 3}}) // both servers below share them
			i := New(Config{Authority: fx.auth, Roots: fx.ca.pool, HandshakeTimeout: ioTimeout})
			client := &tls.Config{ServerName: "upstream.test", RootCAs: poolOf(fx.auth)}
			var resumed []bool
			for _, r := range interceptTwice(t, i, srvCfg, client) {
				resumed = append(resumed, r.sess.Server.ConnectionState().DidResume)
				if c := r.sess.Cert; c == nil || c.Subject == "" || c.Verified != event.VerifiedUpstreamCA && c.Verified != event.VerifiedSystem {
					t.Errorf("Session.Cert = %+v; want the real server's certificate, verified", c)
				}
			}
			if resumed[0] || !resumed[1] {
				t.Errorf("upstream DidResume = %v; want [false true]", resumed)
			}
		})
	}
}

// TestInterceptResumesClient connects twice with a client that keeps
// sessions (as curl, browsers and Node do): the second connection
// resumes on the command's leg too, so the command's TLS library checks
// htapod's leaf once, not per connection. Each connection's Interceptor
// leg is a new tls.Config: resumption needs ticket keys shared by all.
func TestInterceptResumesClient(t *testing.T) {
	fx := newInterceptFixture(t)
	for _, vers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(VersionName(vers), func(t *testing.T) {
			srvCfg := &tls.Config{Certificates: []tls.Certificate{fx.cert}}
			i := New(Config{Authority: fx.auth, Roots: fx.ca.pool, HandshakeTimeout: ioTimeout})
			client := &tls.Config{ServerName: "upstream.test", RootCAs: poolOf(fx.auth), MaxVersion: vers,
				ClientSessionCache: tls.NewLRUClientSessionCache(4)}
			var resumed []bool
			for _, r := range interceptTwice(t, i, srvCfg, client) {
				resumed = append(resumed, r.client.ConnectionState().DidResume)
			}
			if resumed[0] || !resumed[1] {
				t.Errorf("command's leg DidResume = %v; want [false true]", resumed)
			}
		})
	}
}

// TestInterceptKeyLogResumed connects twice with a client that keeps
// sessions, with the command's key log on: every connection's secrets
// are in it, TLS 1.2 too (crypto/tls logs none for a resumed TLS 1.2
// handshake, so there htapod does not resume).
func TestInterceptKeyLogResumed(t *testing.T) {
	fx := newInterceptFixture(t)
	for _, tt := range []struct {
		vers  uint16
		label string
	}{{tls.VersionTLS12, "CLIENT_RANDOM"}, {tls.VersionTLS13, "CLIENT_TRAFFIC_SECRET_0"}} {
		t.Run(VersionName(tt.vers), func(t *testing.T) {
			var keyLog syncBuffer
			srvCfg := &tls.Config{Certificates: []tls.Certificate{fx.cert}}
			i := New(Config{Authority: fx.auth, Roots: fx.ca.pool, HandshakeTimeout: ioTimeout, ClientKeyLog: &keyLog})
			client := &tls.Config{ServerName: "upstream.test", RootCAs: poolOf(fx.auth), MaxVersion: tt.vers,
				ClientSessionCache: tls.NewLRUClientSessionCache(4)}
			interceptTwice(t, i, srvCfg, client)
			if n := strings.Count(keyLog.String(), tt.label+" "); n != 2 {
				t.Errorf("%d %s lines in the command's key log for 2 connections; want 2:\n%s", n, tt.label, keyLog.String())
			}
		})
	}
}

// interceptTwice runs two flows to upstream.test through i, each with an
// exchange (a TLS 1.3 ticket arrives after the handshake), as a command
// would that connects twice.
func interceptTwice(t *testing.T, i *Interceptor, srvCfg, client *tls.Config) []*interception {
	t.Helper()
	var out []*interception
	for range 2 {
		r := interceptWith(t, i, newTestUpstream(t, srvCfg), client, "upstream.test", nil)
		if r.err != nil || r.clientErr != nil {
			t.Fatalf("Intercept error = %v, client's = %v; want nil", r.err, r.clientErr)
		}
		r.exchange(t)
		out = append(out, r)
	}
	return out
}
