// Package pick decides what a flow is from what is known when it starts:
// whether its client opened with a TLS ClientHello and whether htapod
// intercepts it (see tls.go), and which dissector reads it — from the
// negotiated ALPN of an intercepted flow, the client's first bytes, the
// port — including the dissector an HTTP/1 connection upgrades to. It is
// the one place that knows every dissector package.
package pick

import (
	"bytes"
	"encoding/binary"
	"math"
	"time"

	"github.com/htapod/htapod/dissect"
	dnsd "github.com/htapod/htapod/dissect/dns"
	"github.com/htapod/htapod/dissect/http1"
	"github.com/htapod/htapod/dissect/http2"
	"github.com/htapod/htapod/dissect/tlshello"
	"github.com/htapod/htapod/dissect/websocket"
	"github.com/htapod/htapod/event"
)

// h2Preface starts every HTTP/2 connection (RFC 9113 §3.4).
var h2Preface = []byte(http2.ClientPreface)

// StreamFunc chooses the dissector of a TCP flow: first holds the client's
// first bytes (plaintext when intercepted), hello the ClientHello the relay
// parsed from them when the flow is TLS relayed without interception (nil
// otherwise). It returns nil for flows no dissector understands (they are
// reported as flows only), and the dissector's name.
type StreamFunc func(meta dissect.Meta, first []byte, hello *tlshello.Hello, emit dissect.Emit) (dissect.Stream, string)

// methods that start an HTTP/1 request line.
var methods = [][]byte{
	[]byte("GET "), []byte("POST "), []byte("PUT "), []byte("HEAD "), []byte("DELETE "),
	[]byte("OPTIONS "), []byte("PATCH "), []byte("CONNECT "), []byte("TRACE "),
	[]byte("PROPFIND "), []byte("PROPPATCH "), []byte("MKCOL "), []byte("COPY "),
	[]byte("MOVE "), []byte("LOCK "), []byte("UNLOCK "), []byte("REPORT "), []byte("SEARCH "),
	[]byte("PURGE "), []byte("MKCALENDAR "),
}

// Stream returns the chooser for TCP flows, whose dissectors keep what
// opts allows.
func Stream(opts dissect.Options) StreamFunc {
	opts = opts.Limits()
	var choose StreamFunc
	choose = func(meta dissect.Meta, first []byte, hello *tlshello.Hello, emit dissect.Emit) (dissect.Stream, string) {
		if hello != nil && !meta.TLS {
			return tlshello.NewParsed(meta, hello, emit), "tls"
		}
		if meta.ALPN != "h2" && (len(first) == 0 || undecided(first)) {
			// Nothing seen yet (an intercepted flow starts with its
			// plaintext), or too little to tell ("G" of a slow "GET"):
			// choose once the client's bytes say.
			return &lazy{meta: meta, emit: emit, choose: choose}, "auto"
		}
		switch {
		case meta.TLS && meta.ALPN == "h2", bytes.HasPrefix(first, h2Preface):
			return http2.New(meta, opts, emit), "h2"
		case isHTTP1(first):
			return http1.NewUpgrading(meta, opts, emit, upgrade), "http/1"
		case !meta.TLS && tlshello.Looks(first):
			return tlshello.New(meta, opts, emit), "tls"
		case meta.Dst.Port() == 53:
			return dnsd.NewTCP(meta, opts, emit), "dns"
		}
		return nil, ""
	}
	return choose
}

// lazy defers the choice of dissector until the client's first bytes.
// What the server sent before them (an HTTP/2 server's SETTINGS, an SMTP
// greeting) is held, up to maxEarly, and given to the chosen dissector
// first.
type lazy struct {
	meta   dissect.Meta
	emit   dissect.Emit
	choose StreamFunc
	s      dissect.Stream
	off    bool
	early  []byte
	earlyT time.Time
	up     []byte // the client's bytes while they are too few to choose
	upT    time.Time
}

// maxEarly bounds the server bytes held before the client speaks.
const maxEarly = 64 << 10

func (l *lazy) Data(dir event.Direction, b []byte, t time.Time) error {
	if l.s == nil && !l.off {
		if dir != event.Up {
			if len(l.early)+len(b) > maxEarly {
				l.off, l.early = true, nil
				return nil
			}
			if len(l.early) == 0 {
				l.earlyT = t
			}
			l.early = append(l.early, b...)
			return nil
		}
		if len(l.up) == 0 {
			l.upT = t
		}
		l.up = append(l.up, b...)
		if undecided(l.up) {
			return nil
		}
		if s, _ := l.choose(l.meta, l.up, nil, l.emit); s != nil {
			if _, again := s.(*lazy); !again {
				l.s = s
			}
		}
		b, t, l.up = l.up, l.upT, nil
		if l.s == nil {
			l.off, l.early = true, nil
			return nil
		}
		if len(l.early) > 0 {
			early := l.early
			l.early = nil
			if err := l.s.Data(event.Down, early, l.earlyT); err != nil {
				return err
			}
		}
	}
	if l.s == nil {
		return nil
	}
	return l.s.Data(dir, b, t)
}

// Skippable passes on the chosen dissector's (dissect.Skipper): nothing
// is skipped before the choice, everything once no dissector was found.
func (l *lazy) Skippable(dir event.Direction) int64 {
	if l.off {
		return math.MaxInt64
	}
	if sk, ok := l.s.(dissect.Skipper); ok {
		return sk.Skippable(dir)
	}
	return 0
}

// Skip passes on to the chosen dissector.
func (l *lazy) Skip(dir event.Direction, n int64, t time.Time) {
	if sk, ok := l.s.(dissect.Skipper); ok {
		sk.Skip(dir, n, t)
	}
}

func (l *lazy) End(dir event.Direction, t time.Time) {
	if l.s != nil {
		l.s.End(dir, t)
	}
}

func (l *lazy) Close(t time.Time) {
	if l.s != nil {
		l.s.Close(t)
	}
}

// upgrade makes the dissector of a connection an HTTP/1 exchange switched
// to (RFC 9110 §7.8): WebSocket (RFC 6455), or HTTP/2 after "Upgrade: h2c"
// (RFC 7540 §3.2). Others are not dissected.
func upgrade(proto string, meta dissect.Meta, opts dissect.Options, emit dissect.Emit) dissect.Stream {
	switch proto {
	case "websocket":
		return websocket.New(meta, opts, emit)
	case "h2c":
		return http2.NewUpgraded(meta, opts, emit)
	}
	return nil
}

// Datagrams returns the chooser for UDP flows.
func Datagrams(opts dissect.Options) func(meta dissect.Meta, emit dissect.Emit) (dissect.Datagrams, string) {
	opts = opts.Limits()
	return func(meta dissect.Meta, emit dissect.Emit) (dissect.Datagrams, string) {
		if meta.Dst.Port() == 53 || meta.Src.Port() == 53 {
			return dnsd.NewUDP(meta, opts, emit), "dns"
		}
		return nil, ""
	}
}

// decideBytes bounds how many client bytes the choice may wait for.
const decideBytes = 64

// undecided says whether b is too short to choose by: a proper prefix of
// an HTTP method with its space, of the HTTP/2 preface, or of a TLS
// record header.
func undecided(b []byte) bool {
	if len(b) >= decideBytes {
		return false
	}
	if len(b) < len(h2Preface) && bytes.HasPrefix(h2Preface, b) {
		return true
	}
	if len(b) < 3 && b[0] == 0x16 {
		return true
	}
	for _, m := range methods {
		if len(b) < len(m) && bytes.HasPrefix(m, b) {
			return true
		}
	}
	return false
}

// H2Prior says the client opened with HTTP/2's preface without
// negotiating it: prior knowledge, as plaintext gRPC (h2c) does.
func H2Prior(first []byte) bool { return bytes.HasPrefix(first, h2Preface) }

// H2Settings says a server's first bytes are an HTTP/2 SETTINGS frame,
// the server's connection preface (RFC 9113 §3.4): an h2c server (gRPC's,
// x/net's) sends it without waiting for the client's preface.
func H2Settings(b []byte) bool {
	if len(b) < 9 {
		return false
	}
	length := int(b[0])<<16 | int(b[1])<<8 | int(b[2])
	return b[3] == 0x4 && b[4] == 0 && binary.BigEndian.Uint32(b[5:9])&0x7fffffff == 0 && length%6 == 0
}

func isHTTP1(first []byte) bool {
	for _, m := range methods {
		if bytes.HasPrefix(first, m) {
			return true
		}
	}
	return false
}
