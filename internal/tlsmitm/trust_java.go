package tlsmitm

import (
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// JavaStores are the distributions' shared Java trust stores; JDKs link
// their lib/security/cacerts to them.
var JavaStores = []string{
	"/etc/ssl/certs/java/cacerts",              // Debian, Ubuntu
	"/etc/pki/ca-trust/extracted/java/cacerts", // Fedora, RHEL
	"/etc/pki/java/cacerts",                    // older RHEL
	"/var/lib/ca-certificates/java-cacerts",    // openSUSE
}

// hostHasJava says whether the host has Java and a trust store of it to
// replace (Debian installs the store with ca-certificates-java, also
// where no JDK is left).
func hostHasJava() bool {
	if _, err := exec.LookPath("java"); err != nil && !isDir("/usr/lib/jvm") {
		return false
	}
	for _, p := range JavaStores {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

// javaMounts puts store over every Java store path, except those inside
// the hashed directory when that is mounted (it links to store itself).
func javaMounts(store string, farm bool) []Mount {
	var ms []Mount
	for _, p := range JavaStores {
		if farm && strings.HasPrefix(p, hashedDir+"/") {
			continue
		}
		ms = append(ms, Mount{Src: store, Dst: p})
	}
	return ms
}

// writeJavaStore writes a PKCS#12 trust store with the host roots and the
// CA to path (the host's part from the cache, see javaStoreBytes). It is
// written without encryption or MAC: Java opens the default trust store
// with no password (javax.net.ssl.trustStorePassword unset) and then skips
// encrypted certificate bags, trusting nothing. Certificates are public.
func writeJavaStore(ca *x509.Certificate, path string, roots []byte) error {
	data, err := javaStoreBytes(ca, roots)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write Java trust store: %w", err)
	}
	return nil
}
