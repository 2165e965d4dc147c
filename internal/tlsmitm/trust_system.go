package tlsmitm

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// SystemBundles are the CA bundle files of the common distributions. The
// box gets each one that exists replaced by host roots + the htapod CA.
var SystemBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt",                // Debian, Ubuntu, Gentoo, Arch
	"/etc/pki/tls/certs/ca-bundle.crt",                  // Fedora, RHEL
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // Fedora, RHEL
	"/etc/ssl/ca-bundle.pem",                            // openSUSE
	"/etc/ssl/cert.pem",                                 // Alpine, Arch
	"/etc/pki/tls/cacert.pem",                           // OpenELEC
}

// hashedDir is OpenSSL's default CApath on Debian-like systems.
const hashedDir = "/etc/ssl/certs"

// hostRoots reads the first system bundle that exists.
func hostRoots() []byte {
	for _, p := range SystemBundles {
		if b, err := os.ReadFile(p); err == nil && len(b) > 0 {
			return b
		}
	}
	return nil
}

func joinPEM(parts ...[]byte) []byte {
	var b bytes.Buffer
	for _, p := range parts {
		if len(p) == 0 {
			continue
		}
		b.Write(p)
		if p[len(p)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// bundleMounts puts the bundle over every system bundle path, except those
// inside the hashed directory when that is mounted (it has its own copy).
func bundleMounts(bundle string, farm bool) []Mount {
	var ms []Mount
	for _, p := range SystemBundles {
		if farm && strings.HasPrefix(p, hashedDir+"/") {
			continue
		}
		ms = append(ms, Mount{Src: bundle, Dst: p})
	}
	return ms
}

// useOverlay says whether the box may lay a directory over the hashed
// directory instead of replacing it with a copy: overlays in a user
// namespace need Linux 5.11. The copy is ~300 links written at every
// run's start; the layer is three files.
var useOverlay = kernelAtLeast(5, 11)

// kernelAtLeast says whether the running kernel is major.minor or newer.
func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	var ma, mi int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// writeHashedLayer makes the layer laid over /etc/ssl/certs: the bundle
// as ca-certificates.crt, the CA under its OpenSSL hash (the first
// <hash>.N the host does not use), and the directory java, which the
// Java store is written into. Everything else shows through from the host.
func writeHashedLayer(caPEM []byte, hash, layer string, bundle []byte, javaStore string) error {
	if err := os.Mkdir(layer, 0o755); err != nil {
		return fmt.Errorf("create CA layer: %w", err)
	}
	if javaStore != "" && strings.HasPrefix(javaStore, layer+"/") {
		if err := os.Mkdir(filepath.Dir(javaStore), 0o755); err != nil {
			return fmt.Errorf("create CA layer: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(layer, "ca-certificates.crt"), bundle, 0o644); err != nil {
		return fmt.Errorf("create CA layer: %w", err)
	}
	taken := map[string]bool{}
	for i := 0; i < 10; i++ {
		name := fmt.Sprintf("%s.%d", hash, i)
		if _, err := os.Lstat(filepath.Join(hashedDir, name)); err != nil {
			break
		}
		taken[name] = true
	}
	return addHashed(layer, caPEM, hash, taken)
}

// writeHashedDir makes a copy of /etc/ssl/certs as a directory of
// symbolic links to the same targets, with the bundle replaced, the CA
// added under its OpenSSL hash, and java/cacerts replaced.
func writeHashedDir(caPEM []byte, hash, farm string, bundle []byte, javaStore string) error {
	if err := os.Mkdir(farm, 0o755); err != nil {
		return fmt.Errorf("create hashed CA directory: %w", err)
	}
	entries, err := os.ReadDir(hashedDir)
	if err != nil {
		return fmt.Errorf("read %s: %w", hashedDir, err)
	}
	taken := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		taken[name] = true
		if err := farmEntry(e, filepath.Join(farm, name), bundle, javaStore); err != nil {
			return fmt.Errorf("populate hashed CA directory: %w", err)
		}
	}
	return addHashed(farm, caPEM, hash, taken)
}

// farmEntry puts host entry e of the hashed directory at dst.
func farmEntry(e fs.DirEntry, dst string, bundle []byte, javaStore string) error {
	name := e.Name()
	switch {
	case name == "ca-certificates.crt":
		return os.WriteFile(dst, bundle, 0o644)
	case name == "java" && e.IsDir() && javaStore != "":
		if err := os.Mkdir(dst, 0o755); err != nil {
			return err
		}
		return os.Symlink(javaStore, filepath.Join(dst, "cacerts"))
	case e.Type()&fs.ModeSymlink != 0:
		target, err := os.Readlink(filepath.Join(hashedDir, name))
		if err != nil {
			return err
		}
		return os.Symlink(target, dst)
	case e.Type().IsRegular():
		// A file of its own cannot be linked to under its real path,
		// which the farm hides: keep a copy.
		b, err := os.ReadFile(filepath.Join(hashedDir, name))
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	}
	return nil
}
