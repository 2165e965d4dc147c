package lab

import (
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"time"
)

// ServeHTTPS serves h over TLS with cert on addr in the lab until the test
// ends, offering ALPN h2 and http/1.1. Handshake failures, which the
// negative tests cause on purpose, are not logged.
func (l *Lab) ServeHTTPS(addr string, cert tls.Certificate, h http.Handler) {
	l.tb.Helper()
	ln := l.Listen("tcp", addr)
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}},
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go srv.ServeTLS(ln, "", "")
	l.tb.Cleanup(func() { srv.Close() })
}

// StartTLSServers starts the servers that misbehave on port 443's
// neighbours, for the tests of what a client sees when the real server's
// certificate is bad, and a server on port 443 that does not speak TLS:
//
//	www.lab.test:8441  Handler() with PKI.Untrusted (another CA)
//	www.lab.test:8442  Handler() with PKI.Expired
//	www.lab.test:8443  Handler() with PKI.WrongName (WrongName only)
//	203.0.113.12:443   (Plain4) the half-close TCP echo server, no TLS
func (l *Lab) StartTLSServers() {
	l.tb.Helper()
	pki := l.PKI()
	for port, cert := range map[int]tls.Certificate{
		PortUntrusted: pki.Untrusted,
		PortExpired:   pki.Expired,
		PortWrongName: pki.WrongName,
	} {
		l.ServeHTTPS(net.JoinHostPort(WWW4, strconv.Itoa(port)), cert, Handler())
	}
	l.ServeTCPEcho(net.JoinHostPort(Plain4, "443"))
}
