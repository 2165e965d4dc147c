package sandbox

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// setupMounts makes the box's mount tree private (nothing it mounts is seen
// outside) and bind-mounts files and small directories, or lays a
// directory over one (Bind.Overlay). /etc itself is never replaced: it may
// be an overlay or a bind mount (containers, `ip netns exec`), and
// replacing single entries keeps everything else as it is.
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
		if b.Overlay {
			// Overlays in a user namespace need Linux 5.11; the caller
			// checks the version and the paths (no ':' or ',').
			opts := "lowerdir=" + b.Src + ":" + b.Dst
			if err := unix.Mount("overlay", b.Dst, "overlay", 0, opts); err != nil {
				return stepErr(fmt.Sprintf("overlay %s on %s", b.Src, b.Dst), err)
			}
			continue
		}
		if err := unix.Mount(b.Src, b.Dst, "", unix.MS_BIND, ""); err != nil {
			return stepErr(fmt.Sprintf("bind-mount %s over %s", b.Src, b.Dst), err)
		}
	}
	return nil
}
