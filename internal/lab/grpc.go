package lab

import (
	"crypto/tls"
	"net"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Ports of the lab's gRPC servers on WWW4 (StartGRPC).
const (
	// PortGRPCTLS serves gRPC over TLS with PKI.Server.
	PortGRPCTLS = 9443
	// PortGRPCH2C serves gRPC over cleartext HTTP/2 (h2c, prior
	// knowledge).
	PortGRPCH2C = 9080
)

// GRPCMethod is the one method the lab's gRPC servers implement, as
// "service/method": grpc's standard health check. Check with the empty
// service name answers SERVING; with any other name, NOT_FOUND ("unknown
// service").
const GRPCMethod = "grpc.health.v1.Health/Check"

// ServeGRPC runs a gRPC server with the health service on addr in the lab
// until the test ends: over TLS with cert, or over h2c if cert is nil.
func (l *Lab) ServeGRPC(addr string, cert *tls.Certificate) {
	l.tb.Helper()
	ln := l.Listen("tcp", addr)
	var opts []grpc.ServerOption
	if cert != nil {
		opts = append(opts, grpc.Creds(credentials.NewServerTLSFromCert(cert)))
	}
	srv := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(ln)
	l.tb.Cleanup(srv.Stop)
}

// StartGRPC runs the lab's gRPC servers on WWW4: over TLS on PortGRPCTLS
// (certificate PKI.Server) and over h2c on PortGRPCH2C.
func (l *Lab) StartGRPC() {
	l.tb.Helper()
	cert := l.PKI().Server
	l.ServeGRPC(net.JoinHostPort(WWW4, strconv.Itoa(PortGRPCTLS)), &cert)
	l.ServeGRPC(net.JoinHostPort(WWW4, strconv.Itoa(PortGRPCH2C)), nil)
}
