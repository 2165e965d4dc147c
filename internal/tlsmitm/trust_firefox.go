package tlsmitm

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Firefox checks servers against its built-in roots and its profile's NSS
// database (cert9.db); on Linux it reads no system store
// (ImportEnterpriseRoots does nothing there). Its enterprise policy
// Certificates.Install imports a CA file into the profile's database when
// the browser starts, for a fresh profile as for an existing one. htapod
// mounts such a policy where Firefox reads it — /etc/firefox/policies
// (Debian's firefox-esr too), else the installation's distribution
// directory — and mounts a copy of each existing profile's cert9.db over
// the original, so that the user's database stays byte-identical.
//
// Firefox imports the policy's certificates asynchronously while it
// starts: with an existing profile, its first page can be fetched before
// the CA is in, and refused as signed by an unknown issuer. So htapod also
// adds the CA to each profile's copy itself, with certutil, before the
// command starts. A profile that Firefox creates during the run gets the
// CA from the policy only (creating it takes long enough) and keeps it:
// the CA's key dies with the run, so it can sign nothing more.

// firefoxSysConf is Firefox's system policy directory on Linux; it wins
// over the distribution directories.
var firefoxSysConf = "/etc/firefox"

// firefoxInstalls are where distributions install Firefox; policies may
// go in their distribution subdirectory.
var firefoxInstalls = []string{
	"/usr/lib/firefox-esr", "/usr/lib/firefox", "/usr/lib64/firefox",
	"/opt/firefox", "/opt/firefox-esr",
}

// firefoxProfiles are the patterns of profile databases under $HOME.
var firefoxProfiles = []string{
	".mozilla/firefox/*/cert9.db",
	".config/mozilla/firefox/*/cert9.db", // XDG, newer versions
	"snap/firefox/common/.mozilla/firefox/*/cert9.db",
}

func firefoxInstalled() bool {
	for _, n := range []string{"firefox", "firefox-esr"} {
		if _, err := exec.LookPath(n); err == nil {
			return true
		}
	}
	return false
}

// writeFirefox adds the Firefox stores to b.
func (b *browserTrust) writeFirefox(dir, caFile, nick, home string) {
	var targets [][2]string // policy file, top directory that may be copied
	sys := filepath.Join(firefoxSysConf, "policies", "policies.json")
	if _, err := os.Stat(firefoxSysConf); err == nil {
		targets = append(targets, [2]string{sys, firefoxSysConf})
	} else {
		// An installation without a distribution directory would need
		// its whole directory copied: it is left out (and said below).
		for _, inst := range firefoxInstalls {
			if dist := filepath.Join(inst, "distribution"); isDir(dist) {
				targets = append(targets, [2]string{filepath.Join(dist, "policies.json"), dist})
			}
		}
	}
	placed := false
	for i, tg := range targets {
		content, err := firefoxPolicy(tg[0], caFile)
		if err == nil {
			var m Mount
			m, err = shadowFile(dir, fmt.Sprintf("firefox-policy-%d", i), tg[1], tg[0], content)
			if err == nil {
				b.mounts = append(b.mounts, m)
				b.stores = append(b.stores, "Firefox policy "+tg[0])
				placed = true
				continue
			}
		}
		b.skip("Firefox policy %s: %v", tg[0], err)
	}
	if !placed {
		if firefoxInstalled() {
			b.skip("Firefox: nowhere to put a policy: as root, mkdir -p %s", filepath.Dir(sys))
		}
		return
	}
	if home == "" {
		return
	}
	for _, pat := range firefoxProfiles {
		dbs, _ := filepath.Glob(filepath.Join(home, pat))
		for _, db := range dbs {
			b.shadowProfile(dir, filepath.Dir(db), caFile, nick)
		}
	}
}

// shadowProfile mounts copies of a profile's certificate and key
// databases over them, with the CA added to the copy: the import and
// whatever else NSS writes during the run (key4.db changes at every
// start) go to the copies. Without certutil, or with a profile whose
// primary password is set, the copies are mounted as they are and the CA
// comes from the policy alone.
func (b *browserTrust) shadowProfile(dir, profile, caFile, nick string) {
	cp, err := os.MkdirTemp(dir, "firefox-profile-")
	if err != nil {
		b.skip("Firefox profile %s: %v", profile, err)
		return
	}
	var ms []Mount
	copyAll := func() error {
		for _, m := range ms {
			if err := copyFileAny(m.Dst, m.Src); err != nil {
				return err
			}
		}
		return nil
	}
	for _, name := range []string{"cert9.db", "key4.db"} {
		if src := filepath.Join(profile, name); isFile(src) {
			ms = append(ms, Mount{Src: filepath.Join(cp, name), Dst: src})
		}
	}
	if err := copyAll(); err != nil {
		b.skip("Firefox profile %s: copy: %v", profile, err)
		return
	}
	if err := nssAddCA(cp, caFile, nick); err != nil {
		b.skip("Firefox profile %s: %v; the CA comes from the policy alone, which Firefox imports as it starts: "+
			"its first pages may refuse htapod's certificates", profile, err)
		// certutil may have imported the certificate without its trust
		// before it failed: the copies go back to the user's state.
		if err := copyAll(); err != nil {
			b.skip("Firefox profile %s: copy: %v", profile, err)
			return
		}
	}
	b.mounts = append(b.mounts, ms...)
	b.stores = append(b.stores, "Firefox profile "+profile)
}

// firefoxPolicy is the policy file at path (if any) with caFile added to
// Certificates.Install.
func firefoxPolicy(path, caFile string) ([]byte, error) {
	doc := map[string]any{}
	if raw, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(raw, &doc); err != nil {
			return nil, fmt.Errorf("parse %s: %w", path, err)
		}
	}
	pols, _ := doc["policies"].(map[string]any)
	if pols == nil {
		pols = map[string]any{}
		doc["policies"] = pols
	}
	certs, _ := pols["Certificates"].(map[string]any)
	if certs == nil {
		certs = map[string]any{}
		pols["Certificates"] = certs
	}
	install, _ := certs["Install"].([]any)
	certs["Install"] = append(install, caFile)
	return json.MarshalIndent(doc, "", "  ")
}

// copyFileAny copies a file of any size, mode 0600: a profile database is
// the user's private data.
func copyFileAny(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o600)
}

// writeBrowserTrust prepares the browsers' stores.
func writeBrowserTrust(a *Authority, dir, caFile, home string) browserTrust {
	var b browserTrust
	b.writeChromium(a, dir, home)
	b.writeFirefox(dir, caFile, nssNick(a), home)
	return b
}
