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

// Check is one finding of Doctor.
type Check struct {
	Name string
	OK   bool
	// Detail says what was found; Fix, when not OK, what to do.
	Detail, Fix string
}

// Doctor checks what htapod needs from this machine (user namespaces, the
// TUN device), builds a real box around `true`, and says which trust
// stores would take a run's CA. It changes nothing but htapod's own cache
// (the Java store of the host's roots, see docs/design.md).
func Doctor() []Check {
	var out []Check
	for _, c := range sandbox.Doctor() {
		out = append(out, Check{Name: c.Name, OK: c.OK, Detail: c.Detail, Fix: c.Fix})
	}
	return append(out, trustCheck())
}
