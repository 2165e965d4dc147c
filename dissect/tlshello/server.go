package tlshello

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"

	"github.com/htapod/htapod/dissect"
)

// serverHello is what a passthrough flow's ServerHello says in the clear.
type serverHello struct {
	// version is the negotiated version: supported_versions' selected
	// version when present (TLS 1.3), else legacy_version.
	version uint16
	// alpn is the protocol the server selected; always "" for TLS 1.3,
	// where ALPN travels in the encrypted EncryptedExtensions.
	alpn string
	// suite is the cipher suite the server selected.
	suite uint16
}

// parseServerHello parses the ServerHello at the start of b, the server's
// byte stream, with the same results as parse. A HelloRetryRequest is a
// ServerHello too (RFC 8446 §4.1.4) and says TLS 1.3 just as well.
func parseServerHello(b []byte) (*serverHello, int, error) {
	msg, n, err := firstHandshake(b, typeServerHello)
	if err != nil {
		return nil, n, err
	}
	sh, err := parseServerHelloBody(msg)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: ServerHello: %w", dissect.ErrMalformed, err)
	}
	return sh, 0, nil
}

// parseServerHelloBody parses a ServerHello message body (RFC 8446 §4.1.3;
// extensions may be absent before TLS 1.3).
func parseServerHelloBody(msg []byte) (*serverHello, error) {
	s := cryptobyte.String(msg)
	sh := new(serverHello)
	var sessionID cryptobyte.String
	var compression uint8
	if !s.ReadUint16(&sh.version) || !s.Skip(32) ||
		!s.ReadUint8LengthPrefixed(&sessionID) ||
		!s.ReadUint16(&sh.suite) || !s.ReadUint8(&compression) {
		return nil, errors.New("short message")
	}
	if s.Empty() {
		return sh, nil
	}
	var exts cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&exts) || !s.Empty() {
		return nil, errors.New("bad extensions block")
	}
	for !exts.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&data) {
			return nil, errors.New("bad extension")
		}
		switch typ {
		case extSupportedVersions:
			// The server's form is one selected_version (§4.2.1).
			if !data.ReadUint16(&sh.version) || !data.Empty() {
				return nil, errors.New("bad supported_versions extension")
			}
		case extALPN:
			// "The "ProtocolNameList" MUST contain exactly one
			// "ProtocolName"." (RFC 7301 §3.1)
			protos, err := parseALPN(data)
			if err != nil {
				return nil, err
			}
			if len(protos) != 1 {
				return nil, fmt.Errorf("server selected %d ALPN protocols", len(protos))
			}
			sh.alpn = protos[0]
		}
	}
	return sh, nil
}

// VersionName names a TLS version: "TLS 1.3", "TLS 1.2", …, "SSL 3.0",
// or "0x7f1c" for one it does not know (drafts, GREASE).
func VersionName(v uint16) string {
	switch v {
	case 0x0300:
		return "SSL 3.0"
	case 0x0301:
		return "TLS 1.0"
	case 0x0302:
		return "TLS 1.1"
	case 0x0303:
		return "TLS 1.2"
	case 0x0304:
		return "TLS 1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}

// isGREASE says v is a GREASE value (RFC 8701 §2: 0x0A0A, 0x1A1A, …,
// 0xFAFA), which clients offer to keep servers tolerant and never mean.
func isGREASE(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }

// OfferedVersions names the versions h offers, in its order, GREASE left
// out: its supported_versions extension, or legacy_version without one.
func (h *Hello) OfferedVersions() []string {
	vs := h.SupportedVersions
	if vs == nil {
		vs = []uint16{h.Version}
	}
	var out []string
	for _, v := range vs {
		if !isGREASE(v) {
			out = append(out, VersionName(v))
		}
	}
	return out
}
