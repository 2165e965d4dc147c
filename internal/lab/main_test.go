package lab_test

import (
	"testing"

	"github.com/htapod/htapod/internal/lab"
)

// TestMain removes the labclient that TestTLSServers builds.
func TestMain(m *testing.M) { lab.Main(m) }
