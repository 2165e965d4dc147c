package tlsmitm

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestShadowFile(t *testing.T) {
	tests := []struct {
		name     string
		existing map[string]string // files under top before, by relative path
		target   string            // relative to top
		wantDst  string            // relative to top: what the mount covers
	}{
		{"file exists", map[string]string{"policies/managed/a.json": "{}"}, "policies/managed/a.json", "policies/managed/a.json"},
		{"directory exists", map[string]string{"policies/managed/a.json": "{}"}, "policies/managed/htapod.json", "policies/managed"},
		{"only the top exists", map[string]string{"master_preferences": "{}"}, "policies/managed/htapod.json", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top := filepath.Join(t.TempDir(), "chromium")
			os.Mkdir(top, 0o755)
			for p, c := range tt.existing {
				os.MkdirAll(filepath.Dir(filepath.Join(top, p)), 0o755)
				os.WriteFile(filepath.Join(top, p), []byte(c), 0o644)
			}
			before := dirListing(t, top)
			dir := t.TempDir()
			m, err := shadowFile(dir, "shadow", top, filepath.Join(top, tt.target), []byte("ours"))
			if err != nil {
				t.Fatalf("shadowFile: %v", err)
			}
			if want := strings.TrimSuffix(filepath.Join(top, tt.wantDst), "/"); m.Dst != want {
				t.Errorf("mount at %s; want %s", m.Dst, want)
			}
			if !strings.HasPrefix(m.Src, dir) {
				t.Errorf("mount source %s is not in the run directory %s", m.Src, dir)
			}
			// Seen through the mount: the host's files plus ours.
			seen := func(rel string) string {
				p := m.Src
				if r := strings.TrimPrefix(filepath.Join(top, rel), m.Dst); r != "" {
					p = filepath.Join(m.Src, r)
				}
				b, _ := os.ReadFile(p)
				return string(b)
			}
			if got := seen(tt.target); got != "ours" {
				t.Errorf("target through the mount = %q; want ours", got)
			}
			for p, c := range tt.existing {
				if p != tt.target && seen(p) != c {
					t.Errorf("host file %s through the mount = %q; want %q", p, seen(p), c)
				}
			}
			if after := dirListing(t, top); !slices.Equal(before, after) {
				t.Errorf("shadowFile changed the host tree: %q, then %q", before, after)
			}
		})
	}
	t.Run("nothing exists", func(t *testing.T) {
		top := filepath.Join(t.TempDir(), "chromium")
		if _, err := shadowFile(t.TempDir(), "s", top, filepath.Join(top, "policies/x.json"), nil); err == nil {
			t.Errorf("shadowFile without the top directory succeeded; want an error")
		}
	})
}

func dirListing(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			b, _ := os.ReadFile(p)
			out = append(out, p+"="+string(b))
		}
		return nil
	})
	return out
}

func TestChromiumPolicy(t *testing.T) {
	managed := t.TempDir()
	target, content, err := chromiumPolicy(managed, "QUJD")
	if err != nil || target != filepath.Join(managed, chromiumPolicyFile) {
		t.Fatalf("chromiumPolicy(empty dir) = %s, %v; want %s", target, err, chromiumPolicyFile)
	}
	var pol map[string][]string
	if json.Unmarshal(content, &pol) != nil || !slices.Equal(pol["CACertificates"], []string{"QUJD"}) {
		t.Errorf("policy = %s; want CACertificates [QUJD]", content)
	}
	// An administrator's CACertificates is one list: the CA joins it.
	admin := filepath.Join(managed, "corp.json")
	os.WriteFile(admin, []byte(`{"CACertificates": ["Q09SUA=="], "HomepageLocation": "x"}`), 0o644)
	target, content, err = chromiumPolicy(managed, "QUJD")
	if err != nil || target != admin {
		t.Fatalf("chromiumPolicy(admin's list) = %s, %v; want %s", target, err, admin)
	}
	var merged map[string]any
	json.Unmarshal(content, &merged)
	if got := merged["CACertificates"].([]any); len(got) != 2 || got[0] != "Q09SUA==" || got[1] != "QUJD" || merged["HomepageLocation"] != "x" {
		t.Errorf("merged policy = %s; want the admin's list + the CA, other policies kept", content)
	}
}

func TestFirefoxPolicy(t *testing.T) {
	p := filepath.Join(t.TempDir(), "policies.json")
	os.WriteFile(p, []byte(`{"policies": {"DisableTelemetry": true, "Certificates": {"Install": ["corp.pem"], "ImportEnterpriseRoots": true}}}`), 0o644)
	for _, tt := range []struct {
		name, path string
		want       []any
	}{
		{"no file", filepath.Join(t.TempDir(), "none.json"), []any{"/run/ca.pem"}},
		{"admin's file", p, []any{"corp.pem", "/run/ca.pem"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := firefoxPolicy(tt.path, "/run/ca.pem")
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Policies struct {
					Certificates     struct{ Install []any }
					DisableTelemetry *bool
				}
			}
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(doc.Policies.Certificates.Install, tt.want) {
				t.Errorf("Install = %v; want %v (%s)", doc.Policies.Certificates.Install, tt.want, b)
			}
			if tt.path == p && doc.Policies.DisableTelemetry == nil {
				t.Errorf("the admin's other policies were lost: %s", b)
			}
		})
	}
}

// TestWriteNSSDB copies a user's NSS database and adds the CA to the
// copy; the user's files stay byte-identical.
func TestWriteNSSDB(t *testing.T) {
	certutil, err := exec.LookPath("certutil")
	if err != nil {
		t.Skip("no certutil (libnss3-tools)")
	}
	a := newTestAuthority(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "htapod-ca.pem"), a.CertPEM(), 0o644)
	nssdb := filepath.Join(t.TempDir(), "nssdb")
	os.Mkdir(nssdb, 0o700)
	if out, err := exec.Command(certutil, "-N", "-d", "sql:"+nssdb, "--empty-password").CombinedOutput(); err != nil {
		t.Fatalf("certutil -N: %v\n%s", err, out)
	}
	before := dirListing(t, nssdb)
	var b browserTrust
	b.writeNSSDB(a, dir, nssdb)
	if len(b.skipped) > 0 || len(b.mounts) != 1 || b.mounts[0].Dst != nssdb {
		t.Fatalf("writeNSSDB: mounts %v, skipped %q; want one mount over %s", b.mounts, b.skipped, nssdb)
	}
	out, err := exec.Command(certutil, "-L", "-d", "sql:"+b.mounts[0].Src, "-a", "-n", "htapod "+a.Certificate().SerialNumber.Text(16)).Output()
	if err != nil || !bytes.Contains(out, []byte(base64.StdEncoding.EncodeToString(a.Certificate().Raw)[:40])) {
		t.Errorf("the copy does not hold the CA: %v\n%s", err, out)
	}
	if after := dirListing(t, nssdb); !slices.Equal(before, after) {
		t.Errorf("writeNSSDB changed the user's database")
	}
}

// TestWriteBrowserTrust prepares the browsers' stores on a made-up host:
// Chromium's policy root, a Firefox installation with a distribution
// directory, and a user with one Firefox profile.
func TestWriteBrowserTrust(t *testing.T) {
	root := t.TempDir()
	mk := func(p, content string) string {
		p = filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if content != "" {
			os.WriteFile(p, []byte(content), 0o644)
		}
		return p
	}
	chromium := filepath.Dir(mk("etc/chromium/master_preferences", "{}"))
	dist := filepath.Dir(mk("usr/lib/firefox-esr/distribution/x", ""))
	profile := filepath.Dir(mk("home/.mozilla/firefox/abc.default/x", ""))
	certutil, _ := exec.LookPath("certutil")
	if certutil != "" {
		// A real profile database, as Firefox makes it.
		if out, err := exec.Command(certutil, "-N", "-d", "sql:"+profile, "--empty-password").CombinedOutput(); err != nil {
			t.Fatalf("certutil -N: %v\n%s", err, out)
		}
	} else {
		mk("home/.mozilla/firefox/abc.default/cert9.db", "cert db")
		mk("home/.mozilla/firefox/abc.default/key4.db", "key db")
	}
	userDB := dirListing(t, profile)
	oldC, oldS, oldI := chromiumPolicyRoots, firefoxSysConf, firefoxInstalls
	t.Cleanup(func() { chromiumPolicyRoots, firefoxSysConf, firefoxInstalls = oldC, oldS, oldI })
	chromiumPolicyRoots = []string{chromium, filepath.Join(root, "etc/opt/chrome")}
	firefoxSysConf = filepath.Join(root, "etc/firefox")
	firefoxInstalls = []string{filepath.Dir(dist)}

	a := newTestAuthority(t)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "htapod-ca.pem")
	os.WriteFile(caFile, a.CertPEM(), 0o644)
	b := writeBrowserTrust(a, dir, caFile, filepath.Join(root, "home"))

	mounts := map[string]string{}
	for _, m := range b.mounts {
		mounts[m.Dst] = m.Src
	}
	for _, dst := range []string{chromium, dist, filepath.Join(profile, "cert9.db"), filepath.Join(profile, "key4.db")} {
		if mounts[dst] == "" {
			t.Errorf("no mount over %s; mounts %v", dst, b.mounts)
		}
	}
	// Without certutil the profile's copy has no CA, and the run says so.
	if wantSkipped := map[bool]int{true: 0, false: 1}[certutil != ""]; len(b.mounts) != 4 || len(b.skipped) != wantSkipped {
		t.Errorf("mounts %v, skipped %q; want the 4 above and %d skipped", b.mounts, b.skipped, wantSkipped)
	}
	pol, err := os.ReadFile(filepath.Join(mounts[chromium], "policies/managed", chromiumPolicyFile))
	if err != nil || !strings.Contains(string(pol), base64.StdEncoding.EncodeToString(a.Certificate().Raw)) {
		t.Errorf("Chromium policy = %s, %v; want the CA in CACertificates", pol, err)
	}
	ff, err := os.ReadFile(filepath.Join(mounts[dist], "policies.json"))
	if err != nil || !strings.Contains(string(ff), caFile) {
		t.Errorf("Firefox policy = %s, %v; want Install naming %s", ff, err, caFile)
	}
	if certutil != "" {
		// Firefox imports the policy's CA only while it starts; the
		// profile's copy holds it before.
		copyDir := filepath.Dir(mounts[filepath.Join(profile, "cert9.db")])
		out, err := exec.Command(certutil, "-L", "-d", "sql:"+copyDir, "-n", nssNick(a), "-a").Output()
		if err != nil || !bytes.Contains(out, []byte(base64.StdEncoding.EncodeToString(a.Certificate().Raw)[:40])) {
			t.Errorf("the profile's copy does not hold the CA: %v\n%s", err, out)
		}
	} else if got, _ := os.ReadFile(mounts[filepath.Join(profile, "cert9.db")]); string(got) != "cert db" {
		t.Errorf("profile cert9.db copy = %q; want a copy of the user's", got)
	}
	if after := dirListing(t, profile); !slices.Equal(userDB, after) {
		t.Errorf("the user's profile changed")
	}
	for _, want := range []string{"Chromium policy", "Firefox policy", "Firefox profile " + profile} {
		if !slices.ContainsFunc(b.stores, func(s string) bool { return strings.HasPrefix(s, want) }) {
			t.Errorf("stores %q lack %q", b.stores, want)
		}
	}
}

// TestShadowProfileWithPassword prepares a Firefox profile whose primary
// password is set: certutil cannot add the CA without it, the run says
// so, and the copies mounted are the user's databases as they were (not
// with the CA imported half-way, untrusted).
func TestShadowProfileWithPassword(t *testing.T) {
	certutil, err := exec.LookPath("certutil")
	if err != nil {
		t.Skip("no certutil (libnss3-tools)")
	}
	profile := t.TempDir()
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("secret\n"), 0o600)
	if out, err := exec.Command(certutil, "-N", "-d", "sql:"+profile, "-f", pw).CombinedOutput(); err != nil {
		t.Fatalf("certutil -N: %v\n%s", err, out)
	}
	a := newTestAuthority(t)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "htapod-ca.pem")
	os.WriteFile(caFile, a.CertPEM(), 0o644)
	var b browserTrust
	b.shadowProfile(dir, profile, caFile, nssNick(a))
	if len(b.skipped) != 1 || !strings.Contains(b.skipped[0], "certutil") {
		t.Errorf("skipped %q; want one note that certutil failed", b.skipped)
	}
	if len(b.mounts) != 2 {
		t.Fatalf("mounts %v; want copies of cert9.db and key4.db", b.mounts)
	}
	for _, m := range b.mounts {
		orig, _ := os.ReadFile(m.Dst)
		cp, _ := os.ReadFile(m.Src)
		if !bytes.Equal(orig, cp) {
			t.Errorf("the copy of %s differs from the user's file", m.Dst)
		}
	}
}
