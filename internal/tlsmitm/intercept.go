package tlsmitm

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/htapod/htapod/event"
)

// Config of an Interceptor. Authority is required.
type Config struct {
	Authority *Authority
	// Roots verify the real servers; nil means the host's system roots.
	Roots *x509.CertPool
	// RootsFunc, when set, supplies Roots at the first interception (and
	// is called once): loading the system roots takes tens of
	// milliseconds that a run need not wait for before its command starts.
	RootsFunc func() *x509.CertPool
	// Insecure skips verification of the real servers.
	Insecure bool
	// UpstreamCAs are the CAs among Roots that the user gave (rather than
	// the system's): a server verified by one is reported so.
	UpstreamCAs []*x509.Certificate
	// KeyLog receives the NSS key log lines of both legs (for Wireshark);
	// nil writes none. Writes are serialised.
	KeyLog io.Writer
	// ClientKeyLog receives the key log lines of the command's leg only
	// (the leg a capture of the box shows), e.g. for a pcapng file.
	ClientKeyLog io.Writer
	// HandshakeTimeout bounds each leg's handshake; zero means 30 s.
	HandshakeTimeout time.Duration
}

// Interceptor terminates TLS on both legs of a flow. It is safe for
// concurrent use.
type Interceptor struct {
	cfg       Config
	roots     func() *x509.CertPool
	keyLog    io.Writer // both legs
	clientLog io.Writer // the command's leg: keyLog and ClientKeyLog
	// sessions lets the upstream leg resume TLS sessions with a server it
	// has met before in this run: a command that opens a new connection
	// per request would otherwise cost a full handshake and a chain
	// verification on the upstream leg each time (the server decides, as
	// it would for the command itself).
	sessions tls.ClientSessionCache
	// ticketKeys let the command's leg resume sessions too. Each
	// connection's leg is a tls.Config of its own, whose automatic keys
	// would be its own: a command that keeps sessions (curl, browsers,
	// Node) then checked htapod's leaf on every connection. The keys are
	// random per run and never leave memory.
	ticketKeys [][32]byte
}

// upstreamSessions is how many servers' TLS sessions a run keeps.
const upstreamSessions = 1024

// New returns an Interceptor for cfg.
func New(cfg Config) *Interceptor {
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = 30 * time.Second
	}
	i := &Interceptor{cfg: cfg, roots: func() *x509.CertPool { return cfg.Roots },
		sessions: tls.NewLRUClientSessionCache(upstreamSessions), ticketKeys: make([][32]byte, 1)}
	rand.Read(i.ticketKeys[0][:])
	if cfg.RootsFunc != nil {
		i.roots = sync.OnceValue(cfg.RootsFunc)
	}
	if cfg.KeyLog != nil {
		i.keyLog = &lockedWriter{w: cfg.KeyLog}
	}
	switch {
	case cfg.ClientKeyLog != nil && i.keyLog != nil:
		i.clientLog = io.MultiWriter(i.keyLog, &lockedWriter{w: cfg.ClientKeyLog})
	case cfg.ClientKeyLog != nil:
		i.clientLog = &lockedWriter{w: cfg.ClientKeyLog}
	default:
		i.clientLog = i.keyLog
	}
	return i
}

// Session is an intercepted flow: two TLS connections carrying the same
// plaintext protocol.
type Session struct {
	// Client is the command's leg (htapod is the server), Server the
	// upstream leg (htapod is the client).
	Client, Server *tls.Conn
	// Version, ALPN and CipherSuite were negotiated with the client.
	Version     uint16
	ALPN        string
	CipherSuite uint16
	// Cert is the real server's certificate and how it was verified.
	Cert *event.Cert
}

// Error is a failed interception. Leg says which handshake failed:
// "upstream" (the real server, e.g. its certificate is not trusted — the
// client got an alert) or "client" (the command refused htapod's
// certificate; Alert is the alert it sent, when known).
type Error struct {
	Leg   string
	Alert string
	Err   error
	// Cert is the real server's certificate when it was the failure (not
	// trusted), or when the client's leg failed; nil otherwise.
	Cert *event.Cert
}

func (e *Error) Error() string {
	if e.Leg == "client" {
		// The real server was fine: a client that ends the handshake now
		// does not accept htapod's certificate (it pins, or trusts only its
		// own store); the alert, when it sent one, says how it put it.
		why := e.Alert
		if why == "" {
			why = e.Err.Error()
		}
		return clientRefused + " (" + why + "); it may pin certificates or use its own trust store — try --passthrough for this host"
	}
	return "upstream: " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// clientRefused starts the message of a client-leg Error.
const clientRefused = "the client refused htapod's certificate"

// IsClientRefusal says whether msg, an Error's message (as events carry
// it), says that the client refused htapod's certificate.
func IsClientRefusal(msg string) bool { return strings.HasPrefix(msg, clientRefused) }

// Offer is what the command's ClientHello asked for; the upstream leg
// asks the real server for the same.
type Offer struct {
	SNI  string
	ALPN []string
	// Groups are the key exchange groups of the client's supported_groups
	// (nil: unknown). The upstream leg offers a post-quantum hybrid only
	// when the client did: its key share costs every handshake a key
	// generation that a server the client could not have used it with
	// would not use either.
	Groups []uint16
}

// curves returns the upstream leg's key exchange preferences for o: the
// classical groups when every group the client offered is classical, else
// nil (crypto/tls's defaults, with its post-quantum hybrids).
func (o Offer) curves() []tls.CurveID {
	if len(o.Groups) == 0 {
		return nil
	}
	for _, g := range o.Groups {
		if !isClassical(g) {
			return nil
		}
	}
	return []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384, tls.CurveP521}
}

// isClassical says whether group g is a pre-quantum key exchange: the NIST
// curves, X25519, X448, the finite-field groups (RFC 8446 §4.2.7) or a
// GREASE value (RFC 8701).
func isClassical(g uint16) bool {
	switch {
	case g >= 23 && g <= 25, g == 29, g == 30, g >= 256 && g <= 260:
		return true
	}
	return g&0x0f0f == 0x0a0a && g>>8 == g&0xff
}

// Intercept completes TLS on both legs. client must replay the client's
// ClientHello (the relay peeked it to read sni and alpn); server is a
// connected socket to dst. It first connects upstream with the client's SNI
// and ALPN offer, verifies the real server, then answers the client with a
// leaf for the server's names and the ALPN protocol the server chose.
func (i *Interceptor) Intercept(ctx context.Context, client, server net.Conn, offer Offer, dst netip.AddrPort) (*Session, error) {
	sni, alpn := offer.SNI, offer.ALPN
	ctx, cancel := context.WithTimeout(ctx, i.cfg.HandshakeTimeout)
	defer cancel()
	serverName := sni
	if serverName == "" {
		serverName = dst.Addr().String() // verified against the IP SANs
	}
	up := tls.Client(server, &tls.Config{
		ServerName:         serverName,
		NextProtos:         alpn,
		RootCAs:            i.roots(),
		InsecureSkipVerify: i.cfg.Insecure,
		KeyLogWriter:       i.keyLog,
		MinVersion:         tls.VersionTLS10,
		ClientSessionCache: i.sessions,
		CurvePreferences:   offer.curves(),
	})
	if err := up.HandshakeContext(ctx); err != nil {
		i.refuse(ctx, client, err)
		return nil, &Error{Leg: "upstream", Err: err, Cert: failedCert(err)}
	}
	st := up.ConnectionState()
	cert := i.peerCert(st, serverName)
	names, ips := namesFor(st, sni, dst)
	leaf, err := i.cfg.Authority.Leaf(names, ips)
	if err != nil {
		i.refuse(ctx, client, err)
		up.Close()
		return nil, &Error{Leg: "upstream", Err: err}
	}
	var protos []string
	if st.NegotiatedProtocol != "" {
		protos = []string{st.NegotiatedProtocol}
	}
	tap := &lastRead{Conn: client}
	down := i.server(tap, leaf, protos)
	if err := down.HandshakeContext(ctx); err != nil {
		up.Close()
		alert := alertOf(err)
		if alert == "" {
			alert = tap.plainAlert()
		}
		return nil, &Error{Leg: "client", Alert: alert, Err: err, Cert: cert}
	}
	cs := down.ConnectionState()
	return &Session{Client: down, Server: up, Version: cs.Version, ALPN: cs.NegotiatedProtocol,
		CipherSuite: cs.CipherSuite, Cert: cert}, nil
}

// refuse fails the client's handshake with an alert, as the real server's
// failure would have (crypto/tls answers an error from GetConfigForClient
// with internal_error).
func (i *Interceptor) refuse(ctx context.Context, client net.Conn, cause error) {
	srv := tls.Server(client, &tls.Config{
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return nil, cause },
	})
	srv.HandshakeContext(ctx)
}

// namesFor lists the names a leaf must carry: the real certificate's DNS
// names and IPs, plus the SNI (or, without SNI, the address dialled).
func namesFor(st tls.ConnectionState, sni string, dst netip.AddrPort) ([]string, []netip.Addr) {
	var names []string
	var ips []netip.Addr
	if len(st.PeerCertificates) > 0 {
		leaf := st.PeerCertificates[0]
		names = append(names, leaf.DNSNames...)
		for _, ip := range leaf.IPAddresses {
			if a, ok := netip.AddrFromSlice(ip); ok {
				ips = append(ips, a.Unmap())
			}
		}
		if len(leaf.DNSNames) == 0 && leaf.Subject.CommonName != "" && net.ParseIP(leaf.Subject.CommonName) == nil {
			names = append(names, leaf.Subject.CommonName)
		}
	}
	if sni != "" {
		names = append(names, sni)
	} else {
		ips = append(ips, dst.Addr().Unmap())
	}
	return names, ips
}

// alertOf extracts the alert a peer sent from a crypto/tls error
// ("remote error: tls: unknown certificate authority").
func alertOf(err error) string {
	var ae tls.AlertError
	if errors.As(err, &ae) {
		return alertName(ae)
	}
	s := err.Error()
	if i := strings.Index(s, "remote error: tls: "); i >= 0 {
		return s[i+len("remote error: tls: "):]
	}
	return ""
}

// VersionName renders a TLS version: "TLS 1.3".
func VersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLS 1.0"
	case tls.VersionTLS11:
		return "TLS 1.1"
	case tls.VersionTLS12:
		return "TLS 1.2"
	case tls.VersionTLS13:
		return "TLS 1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// lastRead keeps the last bytes read from the client during the
// handshake. A TLS 1.3 client that rejects the certificate may send its
// alert unencrypted (OpenSSL does), which crypto/tls then fails to decrypt
// ("bad record MAC"); the bytes still say which alert it was.
type lastRead struct {
	net.Conn
	last []byte
}

func (l *lastRead) Read(b []byte) (int, error) {
	n, err := l.Conn.Read(b)
	if n > 0 {
		l.last = append(l.last[:0], b[:n]...)
	}
	return n, err
}

// plainAlert returns the name of an unencrypted alert record at the end of
// what was read last, or "".
func (l *lastRead) plainAlert() string {
	b := l.last
	if len(b) < 7 {
		return ""
	}
	r := b[len(b)-7:]
	if r[0] != 21 || r[1] != 3 || r[3] != 0 || r[4] != 2 {
		return ""
	}
	return alertName(tls.AlertError(r[6]))
}

// alertName is an alert's name without crypto/tls's "tls: " prefix, as in
// the "remote error: tls: …" form.
func alertName(a tls.AlertError) string {
	return strings.TrimPrefix(a.Error(), "tls: ")
}

// server is the command's leg: htapod's leaf, the ALPN it may choose, and
// the command leg's key log (for the pcapng).
func (i *Interceptor) server(c net.Conn, leaf *tls.Certificate, protos []string) *tls.Conn {
	cfg := &tls.Config{
		Certificates: []tls.Certificate{*leaf},
		NextProtos:   protos,
		KeyLogWriter: i.clientLog,
		MinVersion:   tls.VersionTLS10,
	}
	cfg.SetSessionTicketKeys(i.ticketKeys)
	if i.clientLog != nil {
		// crypto/tls logs no secret for a resumed TLS 1.2 handshake: with
		// a key log (--keylog, the pcapng) TLS 1.2 makes full handshakes,
		// so that every connection can be decrypted on its own.
		cfg.UnwrapSession = func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
			if cs.Version < tls.VersionTLS13 {
				return nil, nil
			}
			return cfg.DecryptTicket(identity, cs)
		}
	}
	return tls.Server(c, cfg)
}
