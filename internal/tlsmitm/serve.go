package tlsmitm

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
)

// Serve completes TLS with the client alone, htapod being the server and
// no real server behind it (a replay): the leaf is minted for sni (or,
// without SNI, for dst's address), and the first of protos that the client
// also offers is negotiated. client must replay the ClientHello.
func (i *Interceptor) Serve(ctx context.Context, client net.Conn, sni string, dst netip.AddrPort, protos []string) (*tls.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, i.cfg.HandshakeTimeout)
	defer cancel()
	var names []string
	var ips []netip.Addr
	if sni != "" {
		names = []string{sni}
	} else {
		ips = []netip.Addr{dst.Addr().Unmap()}
	}
	leaf, err := i.cfg.Authority.Leaf(names, ips)
	if err != nil {
		i.refuse(ctx, client, err)
		return nil, &Error{Leg: "upstream", Err: err}
	}
	tap := &lastRead{Conn: client}
	down := i.server(tap, leaf, protos)
	if err := down.HandshakeContext(ctx); err != nil {
		alert := alertOf(err)
		if alert == "" {
			alert = tap.plainAlert()
		}
		return nil, &Error{Leg: "client", Alert: alert, Err: err}
	}
	return down, nil
}
