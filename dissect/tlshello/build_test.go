package tlshello

import (
	"golang.org/x/crypto/cryptobyte"
)

// ext is one extension of a synthetic hello.
type ext struct {
	typ  uint16
	data []byte
}

// synthHello describes a ClientHello (or, with serverHello, a
// ServerHello) to build byte by byte, for the cases crypto/tls never
// writes. Raw fields, when not nil, replace the encoded ones.
type synthHello struct {
	version     uint16
	sessionID   []byte
	suites      []uint16
	suitesRaw   []byte // encoded cipher_suites, length prefix included
	compression []byte
	exts        []ext
	noExts      bool   // no extensions block at all
	extsRaw     []byte // the extensions block, length prefix included
	trailing    []byte // after the extensions block
}

// baseHello is a well-formed TLS 1.3 ClientHello for lab.test.
func baseHello() synthHello {
	return synthHello{
		version:     0x0303,
		sessionID:   make([]byte, 32),
		suites:      []uint16{0x1301, 0x1302},
		compression: []byte{0},
		exts: []ext{
			sniExt("lab.test"),
			alpnExt("h2", "http/1.1"),
			versionsExt(0x0304, 0x0303),
		},
	}
}

// body encodes h as a ClientHello body.
func (h synthHello) body() []byte {
	var b cryptobyte.Builder
	b.AddUint16(h.version)
	b.AddBytes(make([]byte, 32)) // random
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(h.sessionID) })
	if h.suitesRaw != nil {
		b.AddBytes(h.suitesRaw)
	} else {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, s := range h.suites {
				b.AddUint16(s)
			}
		})
	}
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(h.compression) })
	h.addExts(&b)
	b.AddBytes(h.trailing)
	return b.BytesOrPanic()
}

// serverBody encodes h as a ServerHello body: the first suite is the
// selected one.
func (h synthHello) serverBody() []byte {
	var b cryptobyte.Builder
	b.AddUint16(h.version)
	b.AddBytes(make([]byte, 32))
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(h.sessionID) })
	b.AddUint16(h.suites[0])
	b.AddUint8(0)
	h.addExts(&b)
	b.AddBytes(h.trailing)
	return b.BytesOrPanic()
}

func (h synthHello) addExts(b *cryptobyte.Builder) {
	switch {
	case h.extsRaw != nil:
		b.AddBytes(h.extsRaw)
	case !h.noExts:
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, e := range h.exts {
				b.AddUint16(e.typ)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(e.data) })
			}
		})
	}
}

// bytes returns h as a ClientHello in one record.
func (h synthHello) bytes() []byte {
	return records(handshakeMsg(typeClientHello, h.body()))
}

// handshakeMsg frames body as a handshake message of type typ.
func handshakeMsg(typ uint8, body []byte) []byte {
	n := len(body)
	return append([]byte{typ, byte(n >> 16), byte(n >> 8), byte(n)}, body...)
}

// records splits msg into handshake records: fragments of the given
// sizes, then one with the rest.
func records(msg []byte, sizes ...int) []byte {
	var out []byte
	for _, n := range sizes {
		out = append(out, record(contentHandshake, msg[:n])...)
		msg = msg[n:]
	}
	return append(out, record(contentHandshake, msg)...)
}

// record frames frag as one record of content type typ, version 3.1.
func record(typ uint8, frag []byte) []byte {
	n := len(frag)
	return append([]byte{typ, 3, 1, byte(n >> 8), byte(n)}, frag...)
}

// sniExt is a server_name extension with one host_name per name.
func sniExt(names ...string) ext {
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, n := range names {
			b.AddUint8(0)
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(n)) })
		}
	})
	return ext{extServerName, b.BytesOrPanic()}
}

// alpnExt is an ALPN extension offering protos.
func alpnExt(protos ...string) ext {
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, p := range protos {
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(p)) })
		}
	})
	return ext{extALPN, b.BytesOrPanic()}
}

// versionsExt is a ClientHello's supported_versions extension.
func versionsExt(vs ...uint16) ext {
	var b cryptobyte.Builder
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, v := range vs {
			b.AddUint16(v)
		}
	})
	return ext{extSupportedVersions, b.BytesOrPanic()}
}
