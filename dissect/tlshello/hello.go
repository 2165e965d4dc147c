// Package tlshello parses a TLS ClientHello (RFC 8446 §4.1.2) from the
// first bytes a client sends, and dissects TLS flows that htapod relays
// without intercepting them.
//
// The TLS interceptor calls Parse to decide, from the SNI and ALPN, how to
// answer before it answers; New is the dissector of passthrough flows.
// Everything here is pure: no I/O, no goroutines, no clock.
package tlshello

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"

	"github.com/htapod/htapod/dissect"
)

// MaxLen bounds the records that may carry a ClientHello: past MaxLen
// bytes of b, Parse gives up with an error wrapping dissect.ErrTooLarge.
// Real ClientHellos take well under 2 KiB, a few more with post-quantum
// key shares.
const MaxLen = 64 << 10

// ErrIncomplete is returned by Parse while b is a consistent prefix of a
// ClientHello that needs more bytes. Call Parse again with more of the
// stream.
var ErrIncomplete = errors.New("tlshello: incomplete ClientHello")

// Extension types (IANA TLS ExtensionType Values) that Hello reports on.
const (
	extServerName        = 0      // RFC 6066 §3
	extSupportedGroups   = 10     // RFC 8446 §4.2.7
	extALPN              = 16     // RFC 7301 §3.1
	extSessionTicket     = 35     // RFC 5077 §3.2
	extPreSharedKey      = 41     // RFC 8446 §4.2.11
	extSupportedVersions = 43     // RFC 8446 §4.2.1
	extECH               = 0xfe0d // draft-ietf-tls-esni
)

// Hello is what a ClientHello says. Slices and strings are copies: a Hello
// does not keep the bytes it was parsed from.
type Hello struct {
	// Len is how many bytes of the stream the records carrying the
	// ClientHello took, up to the end of the record that completed it.
	Len int
	// Version is legacy_version: 0x0303 for TLS 1.2 and 1.3 alike, which
	// offer more in SupportedVersions.
	Version uint16
	// SupportedVersions lists the supported_versions extension in the
	// client's order; nil when the extension is absent (TLS 1.2 and older).
	SupportedVersions []uint16
	// SNI is the host_name of the server_name extension, as sent (RFC
	// 6066 says without a trailing dot, and never an IP literal); "" when
	// absent.
	SNI string
	// ALPN lists the protocols offered, in order; nil when absent.
	ALPN []string
	// SupportedGroups lists the supported_groups extension (key exchange
	// groups, RFC 8446 §4.2.7) in the client's order, GREASE values
	// included; nil when absent.
	SupportedGroups []uint16
	// CipherSuites lists the cipher suites offered, in order, GREASE
	// values included.
	CipherSuites []uint16
	// Extensions lists the extension types in the order sent.
	Extensions []uint16
	// ECH says the encrypted_client_hello extension is present: SNI and
	// ALPN are then those of the outer ClientHello.
	ECH bool
	// SessionTicket says the session_ticket extension is present: the
	// client supports TLS 1.2 tickets (and resumes when it carries one).
	SessionTicket bool
	// PSK says the pre_shared_key extension is present: the client
	// offers TLS 1.3 resumption.
	PSK bool
}

// Looks reports whether b starts like a TLS handshake record: content
// type 22 and record version 3.0 to 3.4. It reads at most 3 bytes and
// says false when b is shorter.
func Looks(b []byte) bool {
	return len(b) >= 3 && b[0] == contentHandshake && b[1] == 3 && b[2] <= 4
}

// Parse parses the ClientHello at the start of b, the client's byte stream
// (TLS records). The ClientHello may span several records.
//
// It returns ErrIncomplete when more bytes are needed, an error wrapping
// dissect.ErrNotProtocol when b does not start with a TLS handshake record
// (content type 22, version 3.x) or the first handshake message is not a
// ClientHello, dissect.ErrTooLarge past MaxLen, and dissect.ErrMalformed
// when the records or the ClientHello break the RFCs' rules.
func Parse(b []byte) (*Hello, error) {
	h, _, err := parse(b)
	return h, err
}

// parse is Parse; with ErrIncomplete it also says how long b must at
// least be before another try is worth it.
func parse(b []byte) (*Hello, int, error) {
	msg, n, err := firstHandshake(b, typeClientHello)
	if err != nil {
		return nil, n, err
	}
	h, err := parseClientHello(msg)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: ClientHello: %w", dissect.ErrMalformed, err)
	}
	h.Len = n
	return h, 0, nil
}

// parseClientHello parses the body of a ClientHello message (RFC 8446
// §4.1.2; the extensions block may be absent before TLS 1.3).
func parseClientHello(msg []byte) (*Hello, error) {
	s := cryptobyte.String(msg)
	h := new(Hello)
	var sessionID, suites, compression cryptobyte.String
	if !s.ReadUint16(&h.Version) || !s.Skip(32) ||
		!s.ReadUint8LengthPrefixed(&sessionID) ||
		!s.ReadUint16LengthPrefixed(&suites) ||
		!s.ReadUint8LengthPrefixed(&compression) {
		return nil, errors.New("short message")
	}
	if len(sessionID) > 32 {
		return nil, fmt.Errorf("legacy_session_id of %d bytes, more than 32", len(sessionID))
	}
	if len(suites) < 2 || len(suites)%2 != 0 {
		return nil, fmt.Errorf("cipher_suites of %d bytes", len(suites))
	}
	h.CipherSuites = make([]uint16, 0, len(suites)/2)
	for !suites.Empty() {
		var cs uint16
		suites.ReadUint16(&cs)
		h.CipherSuites = append(h.CipherSuites, cs)
	}
	if len(compression) == 0 {
		return nil, errors.New("no compression methods")
	}
	if s.Empty() {
		return h, nil // no extensions: allowed before TLS 1.3
	}
	var exts cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&exts) || !s.Empty() {
		return nil, errors.New("bad extensions block")
	}
	if err := h.parseExtensions(exts); err != nil {
		return nil, err
	}
	return h, nil
}

// parseExtensions fills h from the ClientHello's extensions block.
func (h *Hello) parseExtensions(exts cryptobyte.String) error {
	seen := make(map[uint16]bool)
	for !exts.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&data) {
			return errors.New("bad extension")
		}
		// "There MUST NOT be more than one extension of the same type
		// in a given extension block." (RFC 8446 §4.2)
		if seen[typ] {
			return fmt.Errorf("extension %d twice", typ)
		}
		seen[typ] = true
		// "The "pre_shared_key" extension MUST be the last extension in
		// the ClientHello" (RFC 8446 §4.2.11).
		if h.PSK {
			return errors.New("pre_shared_key is not the last extension")
		}
		h.Extensions = append(h.Extensions, typ)
		var err error
		switch typ {
		case extServerName:
			h.SNI, err = parseServerName(data)
		case extALPN:
			h.ALPN, err = parseALPN(data)
		case extSupportedVersions:
			h.SupportedVersions, err = parseSupportedVersions(data)
		case extSupportedGroups:
			h.SupportedGroups, err = parseSupportedGroups(data)
		case extSessionTicket:
			h.SessionTicket = true
		case extPreSharedKey:
			h.PSK = true
		case extECH:
			h.ECH = true
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// parseServerName returns the host_name of a server_name extension (RFC
// 6066 §3). Names of other types are skipped; like crypto/tls, it reads
// every ServerName as a uint16-prefixed opaque.
func parseServerName(data cryptobyte.String) (string, error) {
	var list cryptobyte.String
	if !data.ReadUint16LengthPrefixed(&list) || !data.Empty() || list.Empty() {
		return "", errors.New("bad server_name extension")
	}
	var host string
	for !list.Empty() {
		var typ uint8
		var name cryptobyte.String
		if !list.ReadUint8(&typ) || !list.ReadUint16LengthPrefixed(&name) {
			return "", errors.New("bad server_name entry")
		}
		if typ != 0 {
			continue
		}
		// "The ServerNameList MUST NOT contain more than one name of
		// the same name_type." (RFC 6066 §3)
		if host != "" {
			return "", errors.New("two host_names in server_name")
		}
		if len(name) == 0 {
			return "", errors.New("empty host_name")
		}
		host = string(name)
	}
	return host, nil
}

// parseALPN returns the protocols of an ALPN extension (RFC 7301 §3.1).
func parseALPN(data cryptobyte.String) ([]string, error) {
	var list cryptobyte.String
	if !data.ReadUint16LengthPrefixed(&list) || !data.Empty() || list.Empty() {
		return nil, errors.New("bad application_layer_protocol_negotiation extension")
	}
	var protos []string
	for !list.Empty() {
		var proto cryptobyte.String
		// "Empty strings MUST NOT be included" (RFC 7301 §3.1).
		if !list.ReadUint8LengthPrefixed(&proto) || proto.Empty() {
			return nil, errors.New("bad ALPN protocol name")
		}
		protos = append(protos, string(proto))
	}
	return protos, nil
}

// parseSupportedGroups returns the groups of a ClientHello's
// supported_groups extension (RFC 8446 §4.2.7: named_group_list<2..2^16-1>).
func parseSupportedGroups(data cryptobyte.String) ([]uint16, error) {
	var list cryptobyte.String
	if !data.ReadUint16LengthPrefixed(&list) || !data.Empty() {
		return nil, errors.New("bad supported_groups extension")
	}
	return uint16List(list, "supported_groups")
}

// parseSupportedVersions returns the versions of a ClientHello's
// supported_versions extension (RFC 8446 §4.2.1: versions<2..254>).
func parseSupportedVersions(data cryptobyte.String) ([]uint16, error) {
	var list cryptobyte.String
	if !data.ReadUint8LengthPrefixed(&list) || !data.Empty() {
		return nil, errors.New("bad supported_versions extension")
	}
	return uint16List(list, "supported_versions")
}

// uint16List reads the body of a list of 16-bit values, at least one.
func uint16List(list cryptobyte.String, ext string) ([]uint16, error) {
	if len(list) < 2 || len(list)%2 != 0 {
		return nil, errors.New("bad " + ext + " extension")
	}
	vs := make([]uint16, 0, len(list)/2)
	for !list.Empty() {
		var v uint16
		list.ReadUint16(&v)
		vs = append(vs, v)
	}
	return vs, nil
}
