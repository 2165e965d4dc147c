package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/htapod/htapod/internal/lab"
)

// browserTimeout bounds one browser run: a cold start of a browser on a
// loaded 2-core machine takes seconds.
const browserTimeout = 120 * time.Second

// chromiumArgs are the flags of a headless Chromium that loads one page:
// the vendor's background services are off (in the lab they would fail
// anyway), and --no-sandbox because the box has no setuid sandbox helper.
var chromiumArgs = []string{"chromium", "--headless=new", "--no-sandbox", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--disable-gpu", "--dump-dom"}

// TestBrowserChromium loads the lab's HTTPS page in Debian's Chromium
// through htapod, with no flag: the page is printed, the report shows the
// GET and its status, and the user's NSS database is byte-identical.
func TestBrowserChromium(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("chromium"); err != nil {
		t.Skip("no chromium on this machine (scripts/test-setup.sh installs it)")
	}
	e := newTLSEnv(t)
	nssdb := userNSSDB(t, e)
	before := treeSums(t, nssdb)
	url := labURL(443, "/")
	res := e.browser(append(chromiumArgs, url)...)
	if res.ExitCode != 0 || !strings.Contains(string(res.Stdout), "lab.test") {
		t.Fatalf("htapod -- chromium --dump-dom %s: %v; want exit 0 and the page", url, res)
	}
	wantGET(t, string(res.Stderr), url)
	if after := treeSums(t, nssdb); !mapsEqual(before, after) {
		t.Errorf("the user's NSS database changed: before %v, after %v", before, after)
	}
}

// TestBrowserFirefox takes a screenshot of the lab's HTTPS page with
// Debian's firefox-esr through htapod, with no flag, for a fresh profile
// and for one the user already has: the screenshot is written, the report
// shows the GET, and the existing profile's certificate and key databases
// are byte-identical after.
func TestBrowserFirefox(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("firefox-esr"); err != nil {
		t.Skip("no firefox-esr on this machine (scripts/test-setup.sh installs it)")
	}
	e := newTLSEnv(t)
	url := labURL(443, "/")
	shoot := func(name string) lab.Result {
		t.Helper()
		shot := filepath.Join(e.Home(), name)
		res := e.browser("firefox-esr", "--headless", "--screenshot", shot, url)
		if fi, err := os.Stat(shot); err != nil || fi.Size() == 0 {
			t.Fatalf("htapod -- firefox-esr --screenshot %s %s: %v; no screenshot (%v)", shot, url, res, err)
		}
		wantGET(t, string(res.Stderr), url)
		if d := os.Getenv("HTAPOD_KEEP_SCREENSHOT"); d != "" {
			b, _ := os.ReadFile(shot)
			os.WriteFile(filepath.Join(d, name), b, 0o644)
		}
		return res
	}
	// The first run makes the profile; the second finds it.
	shoot("fresh.png")
	// Older versions keep profiles in ~/.mozilla, newer ones in XDG's
	// ~/.config/mozilla.
	var dbs []string
	for _, pat := range []string{".mozilla/firefox/*/cert9.db", ".config/mozilla/firefox/*/cert9.db"} {
		m, _ := filepath.Glob(filepath.Join(e.Home(), pat))
		dbs = append(dbs, m...)
	}
	if len(dbs) != 1 {
		t.Fatalf("profiles after the first run: %q; want one cert9.db", dbs)
	}
	profile := filepath.Dir(dbs[0])
	sums := func() map[string]string {
		m := map[string]string{}
		for _, f := range []string{"cert9.db", "key4.db"} {
			b, err := os.ReadFile(filepath.Join(profile, f))
			if err != nil {
				t.Fatal(err)
			}
			m[f] = sha(b)
		}
		return m
	}
	before := sums()
	shoot("existing.png")
	if after := sums(); !mapsEqual(before, after) {
		t.Errorf("the existing profile's databases changed: before %v, after %v", before, after)
	}
}

// browser runs `htapod --upstream-ca LABCA -- argv...` bounded by
// browserTimeout.
func (e *tlsEnv) browser(argv ...string) lab.Result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	defer cancel()
	args := append([]string{e.bin, "--upstream-ca", e.pki.CAFile, "--"}, argv...)
	res := e.Run(ctx, lab.RunOptions{}, args...)
	if res.TimedOut {
		e.t.Fatalf("htapod -- %q did not end within %v: %v", argv, browserTimeout, res)
	}
	return res
}

// wantGET fails t unless the report has a GET of url answered 200, or 304
// (a profile's second visit revalidates its cached copy).
func wantGET(t *testing.T, report, url string) {
	t.Helper()
	reqs, resps := requests(report), responses(report)
	for i, r := range reqs {
		if r.method == "GET" && r.url == url && i < len(resps) && len(resps[i]) > 0 &&
			(resps[i][0] == "200 OK" || resps[i][0] == "304 Not Modified") {
			return
		}
	}
	t.Errorf("report has no GET %s answered 200 or 304: requests %q, responses %q; report:\n%s", url, reqs, resps, report)
}

// userNSSDB makes the NSS database a Chromium user has in
// $HOME/.pki/nssdb, holding one certificate of the user's.
func userNSSDB(t *testing.T, e *tlsEnv) string {
	t.Helper()
	certutil, err := exec.LookPath("certutil")
	if err != nil {
		t.Skip("no certutil on this machine (scripts/test-setup.sh installs libnss3-tools)")
	}
	dir := filepath.Join(e.Home(), ".pki", "nssdb")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-N", "-d", "sql:" + dir, "--empty-password"},
		{"-A", "-d", "sql:" + dir, "-n", "user's own", "-t", "C,,", "-i", e.pki.CAFile},
	} {
		if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %q: %v\n%s", args, err, out)
		}
	}
	uid, gid := lab.User(t)
	filepath.WalkDir(filepath.Join(e.Home(), ".pki"), func(p string, _ fs.DirEntry, _ error) error {
		return os.Chown(p, uid, gid)
	})
	return dir
}

// treeSums maps each regular file under dir to its SHA-256.
func treeSums(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		m[strings.TrimPrefix(p, dir+"/")] = sha(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8])
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
