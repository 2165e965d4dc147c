package htapod

import (
	"errors"

	"github.com/htapod/htapod/internal/sandbox"
)

// Hint returns what a person can do about an error from Run, in one or
// more lines, or "" when there is nothing to add to the error itself.
func Hint(err error) string {
	var se *sandbox.Error
	if errors.As(err, &se) {
		return se.Hint
	}
	return ""
}

// Check is one finding of Doctor: its Name, whether it is OK, and what it
// found or what to do.
type Check = sandbox.Check

// Doctor checks what htapod needs from this machine (user namespaces, the
// TUN device) and builds a real box around `true`. It changes nothing.
func Doctor() []Check { return sandbox.Doctor() }
