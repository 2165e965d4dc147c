package tlsmitm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Mount is a file or directory to bind over a path in the box; with
// Overlay, the directory Src is laid over the directory Dst instead
// (Dst's entries show through where Src has none).
type Mount struct {
	Src, Dst string
	Overlay  bool
}

// Trust is what makes the box trust an authority: files written in a run
// directory, the mounts that put them in place, and environment variables
// for runtimes that ignore the system store. Each store has a file of its
// own: trust_system.go (bundles and OpenSSL's hashed directory),
// trust_java.go, trust_env.go, trust_chromium.go, trust_firefox.go.
type Trust struct {
	// Bundle is host roots + the CA (PEM); CA is the CA alone.
	Bundle, CA string
	Mounts     []Mount
	Env        []string
	// Stores names each trust store given the CA for the run ("system
	// bundles", "Chromium policy /etc/chromium/…"), for the run's notice.
	Stores []string
	// Skipped names the stores of installed clients that could not be
	// given the CA, each with the reason and what to do.
	Skipped []string
}

// WriteTrust writes the trust files for a into dir (which must be private
// to the user: it is the run directory). env is the command's environment:
// a CA variable the user already set to a file gets that file + the CA,
// and HOME says where the user's browser profiles are.
func WriteTrust(a *Authority, dir string, env []string) (*Trust, error) {
	hash, err := subjectHash(a.Certificate())
	if err != nil {
		return nil, err
	}
	roots := hostRoots()
	caPEM := a.CertPEM()
	t := &Trust{Bundle: filepath.Join(dir, "ca-bundle.pem"), CA: filepath.Join(dir, "htapod-ca.pem")}
	bundle := joinPEM(roots, caPEM)
	javaStore, farm, overlay := trustPaths(dir)
	if overlay {
		// Three small files: written before the Java store goes into it.
		if err := writeHashedLayer(caPEM, hash, farm, bundle, javaStore); err != nil {
			return nil, err
		}
	}
	home := envValue(env, "HOME")
	var browsers browserTrust
	// The parts are independent, and this is on the path of every run's
	// start: write them at once.
	var wg sync.WaitGroup
	var errs [4]error
	run := func(i int, f func() error) {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = f() }()
	}
	run(0, func() error {
		if err := os.WriteFile(t.Bundle, bundle, 0o644); err != nil {
			return fmt.Errorf("write CA bundle: %w", err)
		}
		if err := os.WriteFile(t.CA, caPEM, 0o644); err != nil {
			return fmt.Errorf("write CA: %w", err)
		}
		// The browsers read the CA file (Firefox's policy names it).
		browsers = writeBrowserTrust(a, dir, t.CA, home)
		return nil
	})
	if javaStore != "" {
		run(1, func() error { return writeJavaStore(a.Certificate(), javaStore, roots) })
	}
	if farm != "" && !overlay {
		run(2, func() error { return writeHashedDir(caPEM, hash, farm, bundle, javaStore) })
	}
	var envNames []string
	run(3, func() error {
		var err error
		t.Env, envNames, err = trustEnv(envFile{bundle: t.Bundle, ca: t.CA, dir: dir, caPEM: caPEM, hash: hash, hashedDir: farm != ""}, env)
		return err
	})
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	t.Stores = append(t.Stores, "system bundles")
	if farm != "" {
		t.Mounts = append(t.Mounts, Mount{Src: farm, Dst: hashedDir, Overlay: overlay})
		t.Stores = append(t.Stores, "OpenSSL directory "+hashedDir)
	}
	t.Mounts = append(t.Mounts, bundleMounts(t.Bundle, farm != "")...)
	if javaStore != "" {
		t.Mounts = append(t.Mounts, javaMounts(javaStore, farm != "")...)
		t.Stores = append(t.Stores, "Java cacerts")
	}
	t.Mounts = append(t.Mounts, browsers.mounts...)
	t.Stores = append(t.Stores, browsers.stores...)
	t.Skipped = append(t.Skipped, browsers.skipped...)
	if len(envNames) > 0 {
		t.Stores = append(t.Stores, "environment "+strings.Join(envNames, " "))
	}
	return t, nil
}

// trustPaths says where the Java store and the hashed directory go in
// dir ("" for none), and whether the directory is a layer (overlay) or a
// copy.
func trustPaths(dir string) (javaStore, farm string, overlay bool) {
	if hostHasJava() {
		javaStore = filepath.Join(dir, "java-cacerts")
	}
	if isDir(hashedDir) {
		farm = filepath.Join(dir, "certs")
		overlay = useOverlay && !strings.ContainsAny(farm, ":,\\")
	}
	if overlay && javaStore != "" && isDir(filepath.Join(hashedDir, "java")) {
		// The store goes straight into the layer, as java/cacerts.
		javaStore = filepath.Join(farm, "java", "cacerts")
	}
	return javaStore, farm, overlay
}

// envValue is the value of name in env, or "".
func envValue(env []string, name string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], name+"="); ok {
			return v
		}
	}
	return ""
}
