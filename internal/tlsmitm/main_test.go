package tlsmitm

import (
	"fmt"
	"os"
	"testing"
)

// TestMain keeps the tests' Java store cache (javaStoreBytes) out of the
// user's real cache directory.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "htapod-tlsmitm-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_CACHE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
