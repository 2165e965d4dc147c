package sandbox

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// setupMounts makes the box's mount tree private (nothing it mounts is seen
// outside) and bind-mounts single files. Whole directories are never
// overlaid: /etc may itself be an overlay or a bind mount (containers,
// `ip netns exec`), and replacing files keeps everything else as it is.
func setupMounts(binds []Bind) *childError {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return stepErr("make mounts private", err)
	}
	for _, b := range binds {
		if _, err := os.Stat(b.Dst); err != nil {
			if b.Required {
				return stepErr(fmt.Sprintf("bind-mount %s", b.Dst), err)
			}
			continue
		}
		if err := unix.Mount(b.Src, b.Dst, "", unix.MS_BIND, ""); err != nil {
			return stepErr(fmt.Sprintf("bind-mount %s over %s", b.Src, b.Dst), err)
		}
	}
	return nil
}
