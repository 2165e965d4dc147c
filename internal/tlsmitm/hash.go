package tlsmitm

import (
	"crypto/sha1"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// subjectHash is OpenSSL's X509_NAME_hash of cert's subject: the file
// name stem ("1a2b3c4d") under which `openssl rehash` links a CA into a
// CApath directory. OpenSSL hashes a canonical encoding: each RDN as a SET
// of (OID, UTF8String) with values trimmed, inner white space collapsed
// and ASCII lower-cased, the RDNs concatenated without the outer SEQUENCE
// (crypto/x509/x_name.c, x509_name_canon); SHA-1; the first four bytes as
// a little-endian number.
func subjectHash(cert *x509.Certificate) (string, error) {
	seq := cert.Subject.ToRDNSequence()
	var b cryptobyte.Builder
	for _, rdn := range seq {
		b.AddASN1(cbasn1.SET, func(set *cryptobyte.Builder) {
			for _, atv := range rdn {
				set.AddASN1(cbasn1.SEQUENCE, func(s *cryptobyte.Builder) {
					s.AddASN1ObjectIdentifier(atv.Type)
					s.AddASN1(cbasn1.UTF8String, func(v *cryptobyte.Builder) {
						v.AddBytes([]byte(canonValue(fmt.Sprint(atv.Value))))
					})
				})
			}
		})
	}
	canon, err := b.Bytes()
	if err != nil {
		return "", fmt.Errorf("encode subject: %w", err)
	}
	sum := sha1.Sum(canon)
	return fmt.Sprintf("%08x", binary.LittleEndian.Uint32(sum[:4])), nil
}

func canonValue(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
