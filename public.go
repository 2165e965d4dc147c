package htapod

import (
	"errors"
	"os"

	"github.com/htapod/htapod/internal/lineout"
	"github.com/htapod/htapod/internal/sandbox"
	"github.com/htapod/htapod/internal/tlsmitm"
)

// Authority is a certificate authority that signs the certificates htapod
// shows the command for intercepted TLS.
type Authority = tlsmitm.Authority

// LoadAuthority reads a CA the user keeps (PEM certificate and key), for
// WithAuthority.
func LoadAuthority(certFile, keyFile string) (*Authority, error) {
	return tlsmitm.LoadAuthority(certFile, keyFile)
}

// CreateAuthorityFiles makes a long-lived CA for the user to keep and
// trust: DIR/ca.pem (0444) and DIR/ca-key.pem (0400), in a directory
// created 0700. It refuses to overwrite.
func CreateAuthorityFiles(dir string) (certFile, keyFile string, err error) {
	return tlsmitm.CreateAuthorityFiles(dir)
}

// Hint returns what a person can do about an error from Run, in one or
// more lines, or "" when there is nothing to add to the error itself.
func Hint(err error) string {
	var se *sandbox.Error
	if errors.As(err, &se) {
		return se.Hint
	}
	return ""
}

// Check is one finding of Doctor.
type Check = sandbox.Check

// Doctor checks what htapod needs from this machine (user namespaces, the
// TUN device) and builds a real box around `true`. It changes nothing.
func Doctor() []Check { return sandbox.Doctor() }

// IsTerminal reports whether f is a terminal (for choosing colours and the
// exit summary).
func IsTerminal(f *os.File) bool { return lineout.IsTerminal(f) }
