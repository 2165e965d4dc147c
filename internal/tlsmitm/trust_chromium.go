package tlsmitm

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Chromium (and Chrome, and the Chromium of Playwright and Puppeteer)
// checks servers against its own root store plus "local" anchors: those
// of its CACertificates policy and those the user added to the NSS
// database in $HOME/.pki/nssdb. htapod gives it the CA through the policy
// when the browser's policy root exists (Debian's chromium package brings
// /etc/chromium): a file in policies/managed, the tree copied and mounted
// over so that nothing of the host changes. Without a policy root, a copy
// of the user's NSS database with the CA added (certutil) is mounted over
// $HOME/.pki/nssdb; htapod never creates a file in the user's home, so
// without either there is nothing to mount over, and the run says so.

// chromiumPolicyRoots are where Chromium-based browsers read policies.
var chromiumPolicyRoots = []string{
	"/etc/chromium",               // Chromium: Debian, Playwright, Puppeteer
	"/etc/opt/chrome",             // Google Chrome
	"/etc/opt/chrome_for_testing", // Chrome for Testing
}

// chromiumPolicyFile is htapod's policy file in a managed directory.
const chromiumPolicyFile = "htapod.json"

// chromiumInstalled says whether a Chromium-based browser is on the PATH.
func chromiumInstalled() bool {
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"} {
		if _, err := exec.LookPath(n); err == nil {
			return true
		}
	}
	return false
}

// writeChromium adds the Chromium stores to b.
func (b *browserTrust) writeChromium(a *Authority, dir, home string) {
	der := base64.StdEncoding.EncodeToString(a.Certificate().Raw)
	policy := false
	for i, root := range chromiumPolicyRoots {
		if _, err := os.Stat(root); err != nil {
			continue
		}
		managed := filepath.Join(root, "policies", "managed")
		target, content, err := chromiumPolicy(managed, der)
		if err == nil {
			var m Mount
			m, err = shadowFile(dir, fmt.Sprintf("chromium-policy-%d", i), root, target, content)
			if err == nil {
				b.mounts = append(b.mounts, m)
				b.stores = append(b.stores, "Chromium policy "+managed)
				policy = true
				continue
			}
		}
		b.skip("Chromium policy %s: %v", managed, err)
	}
	if policy {
		return
	}
	nssdb := filepath.Join(home, ".pki", "nssdb")
	if home != "" && isDir(nssdb) {
		b.writeNSSDB(a, dir, nssdb)
		return
	}
	if chromiumInstalled() {
		b.skip("Chromium: no policy directory (%s) and no NSS database (%s) to mount over: "+
			"run the browser once without htapod (it creates %[2]s), or as root: mkdir -p %[3]s",
			chromiumPolicyRoots[0], nssdb, filepath.Join(chromiumPolicyRoots[0], "policies", "managed"))
	}
}

// chromiumPolicy returns the file to write in managed and its content:
// htapod's own file, or, when a file there already sets CACertificates
// (Chromium would take one list), that file with the CA added to it.
func chromiumPolicy(managed, der string) (string, []byte, error) {
	files, _ := filepath.Glob(filepath.Join(managed, "*.json"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return "", nil, err
		}
		var pol map[string]any
		if json.Unmarshal(raw, &pol) != nil {
			continue
		}
		if list, ok := pol["CACertificates"].([]any); ok {
			pol["CACertificates"] = append(list, der)
			out, err := json.MarshalIndent(pol, "", "  ")
			return f, out, err
		}
	}
	out, err := json.MarshalIndent(map[string]any{"CACertificates": []string{der}}, "", "  ")
	return filepath.Join(managed, chromiumPolicyFile), out, err
}

// writeNSSDB copies the user's NSS database, adds the CA to the copy with
// certutil and mounts it over the original: the user's files stay as they
// are, and what the browser writes during the run goes to the copy.
func (b *browserTrust) writeNSSDB(a *Authority, dir, nssdb string) {
	copyDir := filepath.Join(dir, "nssdb")
	budget := shadowMaxEntries
	if err := copyTree(nssdb, copyDir, &budget); err != nil {
		b.skip("Chromium NSS database %s: copy: %v", nssdb, err)
		return
	}
	if err := nssAddCA(copyDir, filepath.Join(dir, "htapod-ca.pem"), nssNick(a)); err != nil {
		b.skip("Chromium NSS database %s: %v", nssdb, err)
		return
	}
	b.mounts = append(b.mounts, Mount{Src: copyDir, Dst: nssdb})
	b.stores = append(b.stores, "Chromium NSS database "+nssdb)
}

// errNoCertutil says what to install for certutil.
var errNoCertutil = errors.New("no certutil: install libnss3-tools (Debian, Ubuntu) or nss-tools (Fedora)")

// nssNick is the CA's nickname in an NSS database.
func nssNick(a *Authority) string { return "htapod " + a.Certificate().SerialNumber.Text(16) }

// nssAddCA adds caFile to the NSS database in dir (a copy), trusted to
// issue server certificates. The password file is empty (/dev/null): a
// database with a password (Firefox's primary password) is refused, not
// prompted for on the terminal.
func nssAddCA(dir, caFile, nick string) error {
	certutil, err := exec.LookPath("certutil")
	if err != nil {
		return errNoCertutil
	}
	out, err := exec.Command(certutil, "-d", "sql:"+dir, "-A", "-t", "C,,", "-n", nick, "-i", caFile, "-f", os.DevNull).CombinedOutput()
	if err != nil {
		return fmt.Errorf("certutil: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
