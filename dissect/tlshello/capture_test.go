package tlshello

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"github.com/htapod/htapod/event"
)

// chunk is one write of a TLS handshake, as a tap would see it.
type chunk struct {
	dir event.Direction
	b   []byte
}

// recorder is a net.Conn that records its writes, as dir, into a shared
// transcript.
type recorder struct {
	net.Conn
	dir event.Direction
	mu  *sync.Mutex
	log *[]chunk
}

func (r *recorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	*r.log = append(*r.log, chunk{r.dir, append([]byte(nil), b...)})
	r.mu.Unlock()
	return r.Conn.Write(b)
}

// testServer is a TLS server config for lab.test whose certificate the
// matching client config trusts.
type testServer struct {
	server, client *tls.Config
}

var (
	testServerOnce sync.Once
	testServerVal  testServer
)

// newTestServer returns configs for a self-signed server "lab.test",
// made once per test binary.
func newTestServer(tb testing.TB) testServer {
	tb.Helper()
	testServerOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "lab.test"},
			DNSNames:     []string{"lab.test"},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			panic(err)
		}
		pool := x509.NewCertPool()
		pool.AddCert(cert)
		testServerVal = testServer{
			server: &tls.Config{
				Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
				NextProtos:   []string{"h2", "http/1.1"},
			},
			client: &tls.Config{RootCAs: pool, ServerName: "lab.test"},
		}
	})
	return testServerVal
}

// handshake runs a crypto/tls client with ccfg against a server with
// scfg over loopback TCP and returns the transcript. With scfg nil nobody
// answers: the transcript is the client's first flight only. The client
// reads one byte the server writes after the handshake, so that TLS 1.3
// session tickets reach its session cache.
func handshake(tb testing.TB, ccfg, scfg *tls.Config) []chunk {
	tb.Helper()
	var mu sync.Mutex
	var log []chunk
	cc, sc := loopback(tb)
	client := tls.Client(&recorder{cc, event.Up, &mu, &log}, ccfg)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer sc.Close()
		if scfg == nil {
			readClientHello(sc)
			return
		}
		server := tls.Server(&recorder{sc, event.Down, &mu, &log}, scfg)
		if server.Handshake() == nil {
			server.Write([]byte("x"))
		}
	}()
	err := client.Handshake()
	if err == nil {
		_, err = client.Read(make([]byte, 1))
	}
	cc.Close()
	wg.Wait()
	if scfg != nil && err != nil {
		tb.Fatalf("handshake: %v", err)
	}
	return log
}

// loopback returns the two ends of a TCP connection over the loopback
// interface. Unlike net.Pipe's, its writes are buffered: a TLS 1.3 client
// and server may both write at once.
func loopback(tb testing.TB) (client, server net.Conn) {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	client, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	server, err = l.Accept()
	if err != nil {
		client.Close()
		tb.Fatal(err)
	}
	return client, server
}

// readClientHello reads from c until Parse decides.
func readClientHello(c net.Conn) {
	var b []byte
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		b = append(b, buf[:n]...)
		if _, perr := Parse(b); !errors.Is(perr, ErrIncomplete) || err != nil {
			return
		}
	}
}

// firstFlight returns the concatenated bytes of dir's first run of
// chunks in log.
func firstFlight(log []chunk, dir event.Direction) []byte {
	var b []byte
	for _, c := range log {
		if c.dir == dir {
			b = append(b, c.b...)
		} else if b != nil {
			break
		}
	}
	return b
}

// clientHello returns the first flight of a crypto/tls client with cfg.
func clientHello(tb testing.TB, cfg *tls.Config) []byte {
	tb.Helper()
	return firstFlight(handshake(tb, cfg, nil), event.Up)
}

// resumingHello returns the ClientHello of a TLS 1.3 client resuming a
// session with the test server: it offers a PSK.
func resumingHello(tb testing.TB) []byte {
	tb.Helper()
	ts := newTestServer(tb)
	ccfg := ts.client.Clone()
	ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
	handshake(tb, ccfg, ts.server)
	return firstFlight(handshake(tb, ccfg, ts.server), event.Up)
}

// echConfigList returns an ECHConfigList (draft-ietf-tls-esni §4) with
// one fresh X25519 key and public_name "public.lab.test": enough for a
// crypto/tls client to send an outer ClientHello.
func echConfigList(tb testing.TB) []byte {
	tb.Helper()
	key, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(extECH)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint8(1)     // config_id
			b.AddUint16(0x20) // DHKEM(X25519, HKDF-SHA256)
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				b.AddBytes(key.PublicKey().Bytes())
			})
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				b.AddUint16(1) // HKDF-SHA256
				b.AddUint16(1) // AES-128-GCM
			})
			b.AddUint8(0) // maximum_name_length
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) {
				b.AddBytes([]byte("public.lab.test"))
			})
			b.AddUint16(0) // extensions
		})
	})
	return b.BytesOrPanic()
}
