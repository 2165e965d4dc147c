package tlsmitm

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestSubjectHashMatchesOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	a, err := NewAuthority()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(path, a.CertPEM(), 0o644)
	out, err := exec.Command(openssl, "x509", "-hash", "-noout", "-in", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	got, err := subjectHash(a.Certificate())
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimSpace(string(out)); got != want {
		t.Errorf("subjectHash = %s; want %s (openssl x509 -hash)", got, want)
	}
}
