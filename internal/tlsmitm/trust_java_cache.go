package tlsmitm

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// The Java store of host roots is the same at every run until the host's
// bundle changes, and encoding it (parse ~150 certificates, encode them)
// costs ~10 ms of CPU at every start. It is kept in the user's cache,
// named by the bundle's digest, and each run adds only its CA: a PKCS#12
// file without a MAC is a list of ContentInfos, so the CA's (from a store
// of the CA alone) is appended to the cached list.

// cacheDir returns htapod's private cache directory ($XDG_CACHE_HOME or
// ~/.cache, then htapod), made 0700 if missing, or "" when there is none
// that is ours and private.
func cacheDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	dir := filepath.Join(base, "htapod")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ""
	}
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o077 != 0 || !ownedByUs(fi) {
		return ""
	}
	return dir
}

// javaStoreBytes returns the store of roots + ca: the cached store of
// roots with ca appended, or one encoded whole (and cached) when the
// cache has none.
func javaStoreBytes(ca *x509.Certificate, roots []byte) ([]byte, error) {
	caStore, err := pkcs12.Passwordless.EncodeTrustStore([]*x509.Certificate{ca}, "")
	if err != nil {
		return nil, fmt.Errorf("encode Java trust store: %w", err)
	}
	dir := cacheDir()
	sum := sha256.Sum256(roots)
	name := ""
	if dir != "" {
		name = filepath.Join(dir, "java-roots-"+hex.EncodeToString(sum[:16])+".p12")
		if host, ok := readVerified(name); ok {
			if out, err := appendStore(host, caStore); err == nil {
				return out, nil
			}
		}
	}
	host, err := pkcs12.Passwordless.EncodeTrustStore(parsePEMCerts(roots), "")
	if err != nil {
		return nil, fmt.Errorf("encode Java trust store: %w", err)
	}
	if name != "" {
		writeVerified(name, host) // a cache: a failure costs the next run time
	}
	return appendStore(host, caStore)
}

// parsePEMCerts returns the certificates of a PEM bundle that parse.
func parsePEMCerts(b []byte) []*x509.Certificate {
	var certs []*x509.Certificate
	for _, c := range splitPEMCerts(b) {
		if cert, err := x509.ParseCertificate(c); err == nil {
			certs = append(certs, cert)
		}
	}
	return certs
}

// readVerified reads a store written by writeVerified and checks that it
// is whole: its PKCS#12 structure parses to the end (a file cut short
// does not). The directory is the user's own (0700), and the file was
// renamed into place whole.
func readVerified(name string) ([]byte, bool) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, false
	}
	if _, err := safeBags(b); err != nil {
		return nil, false
	}
	return b, true
}

// writeVerified writes data to name atomically: a temporary file in the
// same directory, renamed.
func writeVerified(name string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), ".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

var oidData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}

// appendStore returns a PKCS#12 file (without MAC) holding the
// certificate bags of a and then those of b, in one SafeContents as strict
// readers expect.
func appendStore(a, b []byte) ([]byte, error) {
	ba, err := safeBags(a)
	if err != nil {
		return nil, err
	}
	bb, err := safeBags(b)
	if err != nil {
		return nil, err
	}
	var out cryptobyte.Builder
	out.AddASN1(cbasn1.SEQUENCE, func(pfx *cryptobyte.Builder) {
		pfx.AddASN1Int64(3)
		addData(pfx, func(authSafe *cryptobyte.Builder) {
			authSafe.AddASN1(cbasn1.SEQUENCE, func(cis *cryptobyte.Builder) {
				addData(cis, func(contents *cryptobyte.Builder) {
					contents.AddASN1(cbasn1.SEQUENCE, func(bags *cryptobyte.Builder) {
						bags.AddBytes(ba)
						bags.AddBytes(bb)
					})
				})
			})
		})
	})
	return out.Bytes()
}

// addData adds a ContentInfo of type data whose octets f writes.
func addData(b *cryptobyte.Builder, f cryptobyte.BuilderContinuation) {
	b.AddASN1(cbasn1.SEQUENCE, func(ci *cryptobyte.Builder) {
		ci.AddASN1ObjectIdentifier(oidData)
		ci.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(c *cryptobyte.Builder) {
			c.AddASN1(cbasn1.OCTET_STRING, f)
		})
	})
}

var errNotStore = errors.New("not a PKCS#12 store without MAC and with one SafeContents")

// readData reads a ContentInfo of type data from in and returns its octets.
func readData(in *cryptobyte.String) (cryptobyte.String, bool) {
	var ci, explicit, octets cryptobyte.String
	var oid asn1.ObjectIdentifier
	ok := in.ReadASN1(&ci, cbasn1.SEQUENCE) && ci.ReadASN1ObjectIdentifier(&oid) && oid.Equal(oidData) &&
		ci.ReadASN1(&explicit, cbasn1.Tag(0).Constructed().ContextSpecific()) &&
		explicit.ReadASN1(&octets, cbasn1.OCTET_STRING)
	return octets, ok
}

// safeBags returns the SafeBags of a PKCS#12 file without MAC whose
// AuthenticatedSafe holds one unencrypted SafeContents (RFC 7292,
// section 4), as Passwordless writes them.
func safeBags(p12 []byte) ([]byte, error) {
	in := cryptobyte.String(p12)
	var pfx, authSafe, cis, bags cryptobyte.String
	var version int64
	if !in.ReadASN1(&pfx, cbasn1.SEQUENCE) || !pfx.ReadASN1Integer(&version) || version != 3 {
		return nil, errNotStore
	}
	authSafe, ok := readData(&pfx)
	if !ok || !pfx.Empty() || !authSafe.ReadASN1(&cis, cbasn1.SEQUENCE) || !authSafe.Empty() {
		return nil, errNotStore
	}
	contents, ok := readData(&cis)
	if !ok || !cis.Empty() || !contents.ReadASN1(&bags, cbasn1.SEQUENCE) || !contents.Empty() {
		return nil, errNotStore
	}
	return bags, nil
}

// splitPEMCerts returns the DER of each CERTIFICATE block of b.
func splitPEMCerts(b []byte) [][]byte {
	var out [][]byte
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			return out
		}
		if blk.Type == "CERTIFICATE" {
			out = append(out, blk.Bytes)
		}
	}
}

// ownedByUs says whether fi belongs to this process's user.
func ownedByUs(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}
