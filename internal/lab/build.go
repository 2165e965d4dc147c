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

// A toolBuild is the one build of a command of this module per test binary.
type toolBuild struct {
	once sync.Once
	bin  string
	err  error
}

// builds holds the builds by package path; buildDir is the directory they
// are built into, removed by Main.
var (
	buildsMu sync.Mutex
	builds   = map[string]*toolBuild{}
	buildDir string
)

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
	return tool(tb, "./cmd/htapod", "htapod")
}

// Client returns the path of labclient (./internal/lab/labclient), the
// lab's own Go client for what no Debian package does: a plain net/http
// GET, a gRPC health check, a WebSocket echo session. It is built once per
// test binary, like Htapod, and the unprivileged user may execute it. Run
// it without arguments for its usage.
func Client(tb testing.TB) string {
	tb.Helper()
	return tool(tb, "./internal/lab/labclient", "labclient")
}

// Example returns the path of ./examples/NAME of this module, built once
// per test binary like Htapod: the library's example programs run in the
// lab as the unprivileged user.
func Example(tb testing.TB, name string) string {
	tb.Helper()
	return tool(tb, "./examples/"+name, "example-"+name)
}

// tool builds the command pkg of this module as name, once per test
// binary, and fails tb if it cannot.
func tool(tb testing.TB, pkg, name string) string {
	tb.Helper()
	buildsMu.Lock()
	b := builds[pkg]
	if b == nil {
		b = &toolBuild{}
		builds[pkg] = b
	}
	buildsMu.Unlock()
	b.once.Do(func() { b.bin, b.err = buildTool(pkg, name) })
	if b.err != nil {
		tb.Fatalf("lab: %v", b.err)
	}
	return b.bin
}

// Main runs the tests of m and then removes the binaries that Htapod and
// Client built. A package whose tests use them calls it from TestMain:
//
//	func TestMain(m *testing.M) { lab.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	buildsMu.Lock()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	buildsMu.Unlock()
	os.Exit(code)
}

// binDir returns the directory binaries are built into, making it on first
// use.
func binDir() (string, error) {
	buildsMu.Lock()
	defer buildsMu.Unlock()
	if buildDir != "" {
		return buildDir, nil
	}
	dir, err := os.MkdirTemp("", "htapod-bin-")
	if err != nil {
		return "", err
	}
	// MkdirTemp makes the directory 0700; the unprivileged user must be
	// able to execute what is inside.
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	buildDir = dir
	return dir, nil
}

// buildTool compiles pkg with the go command that runs the tests.
func buildTool(pkg, name string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir, err := binDir()
	if err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	bin := filepath.Join(dir, name)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool(), "build", "-o", bin, pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	if err := os.Chmod(bin, 0o755); err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
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
