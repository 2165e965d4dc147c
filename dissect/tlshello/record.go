package tlshello

import (
	"fmt"

	"github.com/htapod/htapod/dissect"
)

// Record and handshake framing, RFC 8446 §5.1 and §4.
const (
	recordHeaderLen    = 5
	handshakeHeaderLen = 4

	contentAlert     = 21
	contentHandshake = 22

	typeClientHello = 1
	typeServerHello = 2

	// maxPlaintext is the largest record fragment: "The length MUST NOT
	// exceed 2^14 bytes. An endpoint that receives a record that exceeds
	// this length MUST terminate the connection with a "record_overflow"
	// alert." (RFC 8446 §5.1)
	maxPlaintext = 1 << 14
)

// firstHandshake reassembles the first handshake message carried by the
// records at the start of b. It returns the message body (without its
// 4-byte header; it may alias b) and n, the length of the records up to
// the end of the one that completed the message.
//
// It returns ErrIncomplete while the records seen so far are consistent
// but the message or the record completing it is not all there; n is
// then how long b must at least be before another try is worth it. It
// returns an error wrapping dissect.ErrNotProtocol when b does not start
// with a handshake record or the first message is not of type want. It
// looks at partial records too, so that it gives up as early as the
// bytes allow.
func firstHandshake(b []byte, want uint8) (msg []byte, n int, err error) {
	var hs []byte  // handshake bytes so far
	owned := false // hs is a copy, not a part of b
	off := 0
	for {
		if err := checkRecordHeader(b[off:], off == 0); err != nil {
			return nil, 0, err
		}
		if len(b)-off < recordHeaderLen {
			return incomplete(off + recordHeaderLen + missing(hs))
		}
		length := int(b[off+3])<<8 | int(b[off+4])
		if length > maxPlaintext {
			return nil, 0, fmt.Errorf("%w: record of %d bytes, more than 2^14", dissect.ErrMalformed, length)
		}
		// "Implementations MUST NOT send zero-length fragments of
		// Handshake types" (RFC 8446 §5.1).
		if length == 0 {
			return nil, 0, fmt.Errorf("%w: empty handshake record", dissect.ErrMalformed)
		}
		end := off + recordHeaderLen + length
		if end > MaxLen {
			return nil, 0, fmt.Errorf("%w: handshake message takes more than %d bytes of records", dissect.ErrTooLarge, MaxLen)
		}
		frag := b[off+recordHeaderLen : min(end, len(b))]
		switch {
		case hs == nil && end <= len(b):
			hs = frag // the common case: one record holds it all
		case owned:
			hs = append(hs, frag...)
		default:
			// Copy: hs must not grow over the record headers in b.
			hs, owned = append(append([]byte(nil), hs...), frag...), true
		}
		if len(hs) > 0 && hs[0] != want {
			return nil, 0, fmt.Errorf("%w: first handshake message is of type %d, not %d", dissect.ErrNotProtocol, hs[0], want)
		}
		if len(hs) >= handshakeHeaderLen {
			mlen := int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3])
			if handshakeHeaderLen+mlen > MaxLen {
				return nil, 0, fmt.Errorf("%w: handshake message of %d bytes, more than %d", dissect.ErrTooLarge, mlen, MaxLen)
			}
			if end <= len(b) && len(hs) >= handshakeHeaderLen+mlen {
				return hs[handshakeHeaderLen : handshakeHeaderLen+mlen], end, nil
			}
		}
		if end > len(b) {
			// Past this record's end, at least one more record.
			if rest := missing(hs) - (end - len(b)); rest > 0 {
				return incomplete(end + recordHeaderLen + rest)
			}
			return incomplete(end)
		}
		off = end
	}
}

// missing says how many bytes of a handshake message hs lacks, once its
// header is there; 0 before.
func missing(hs []byte) int {
	if len(hs) < handshakeHeaderLen {
		return 0
	}
	return handshakeHeaderLen + (int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3])) - len(hs)
}

// incomplete returns firstHandshake's results for records that need at
// least need bytes in all: ErrIncomplete, or ErrTooLarge past MaxLen.
func incomplete(need int) ([]byte, int, error) {
	if need > MaxLen {
		return nil, 0, fmt.Errorf("%w: handshake message needs more than %d bytes of records", dissect.ErrTooLarge, MaxLen)
	}
	return nil, need, ErrIncomplete
}

// checkRecordHeader checks the part of a record header that h holds (h
// may be shorter than a header). The first record decides whether the
// bytes are TLS at all; a later one that is not a handshake record breaks
// "Handshake messages MUST NOT be interleaved with other record types"
// (RFC 8446 §5.1).
func checkRecordHeader(h []byte, first bool) error {
	bad := dissect.ErrMalformed
	if first {
		bad = dissect.ErrNotProtocol
	}
	if len(h) > 0 && h[0] != contentHandshake {
		return fmt.Errorf("%w: record of content type %d, not a handshake (22)", bad, h[0])
	}
	// legacy_record_version is 0x0301 or 0x0303 in practice; SSL 3.0
	// (0x0300) clients and future minor versions still have major 3.
	if len(h) > 1 && h[1] != 3 {
		return fmt.Errorf("%w: record version %d.x, not 3.x", bad, h[1])
	}
	return nil
}
