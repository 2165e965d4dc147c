package htapod

import (
	"errors"
	"fmt"
	"syscall"
)

// runDirFull adds what to do to err when it says that the run directory's
// file system (base: $XDG_RUNTIME_DIR or /dev/shm, in memory) has no room
// left, as when something else filled /dev/shm. Other errors pass
// unchanged.
func runDirFull(base string, err error) error {
	if err == nil || !(errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)) {
		return err
	}
	return fmt.Errorf("%w\n  htapod's run directory (resolv.conf and the TLS trust files, a few hundred KB) is in %s, which is full: "+
		"free some space there, or point XDG_RUNTIME_DIR at a directory with room (in memory if you can: "+
		"the run's files include the CA certificate)", err, base)
}
