package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// build is the one build of ./cmd/htapod per test binary.
var build struct {
	once sync.Once
	dir  string // removed by Main
	bin  string
	err  error
}

// Htapod returns the path of an htapod binary that the unprivileged user
// may execute: $HTAPOD_BIN if set, otherwise ./cmd/htapod of this module,
// built once per test binary into a world-readable temporary directory. A
// build failure fails every test that asks, with the compiler's output.
func Htapod(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("HTAPOD_BIN"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			tb.Fatalf("lab: HTAPOD_BIN=%q: %v", p, err)
		}
		return abs
	}
	build.once.Do(func() { build.bin, build.err = buildHtapod() })
	if build.err != nil {
		tb.Fatalf("lab: %v", build.err)
	}
	return build.bin
}

// Main runs the tests of m and then removes the htapod binary that Htapod
// built. A package whose tests use Htapod calls it from TestMain:
//
//	func TestMain(m *testing.M) { lab.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// buildHtapod compiles ./cmd/htapod with the go command that runs the
// tests.
func buildHtapod() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "htapod-bin-")
	if err != nil {
		return "", fmt.Errorf("build htapod: %w", err)
	}
	build.dir = dir
	// MkdirTemp makes the directory 0700; the unprivileged user must be
	// able to execute what is inside.
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", fmt.Errorf("build htapod: %w", err)
	}
	bin := filepath.Join(dir, "htapod")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool(), "build", "-o", bin, "./cmd/htapod")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/htapod: %w\n%s", err, out)
	}
	if err := os.Chmod(bin, 0o755); err != nil {
		return "", fmt.Errorf("build htapod: %w", err)
	}
	return bin, nil
}

// goTool finds the go command. go test puts the running toolchain's bin
// directory first on PATH (Go 1.19 and later), so "go" is the Go that
// built the tests.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" && isFile(filepath.Join(root, "bin", "go")) {
		return filepath.Join(root, "bin", "go")
	}
	return "/usr/local/go/bin/go"
}

// moduleRoot finds the directory of go.mod above the working directory,
// which go test sets to the package's directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(data), "module github.com/htapod/htapod") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find module root: no go.mod of github.com/htapod/htapod above the working directory")
		}
		dir = parent
	}
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
