package reliability

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/htapod/htapod/internal/lab"
)

// tinyDisk mounts a tmpfs of size bytes on name in the lab user's home,
// owned by the lab user, and unmounts it when the test ends (before the
// home directory goes). With fill, a file takes all of its room but free
// bytes (0: all).
func tinyDisk(t *testing.T, e *env, name string, size int, fill bool, free int) string {
	t.Helper()
	dir := e.path(name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatalf("tiny disk: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0700", size),
		"tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs for the full-disk check: %v: %s", err, out)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("unmount %s: %v: %s", dir, err, out)
		}
	})
	if fill {
		if err := fillUp(filepath.Join(dir, "filler"), int64(size-free)); err != nil {
			t.Fatalf("tiny disk: %v", err)
		}
	}
	uid, gid := lab.User(t)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatalf("tiny disk: %v", err)
	}
	return dir
}

// fillUp writes path until its file system has no room left or it holds
// max bytes.
func fillUp(path string, max int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for written := int64(0); written < max; written += int64(len(buf)) {
		if _, err := f.Write(buf[:min(int64(len(buf)), max-written)]); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return nil
			}
			return err
		}
	}
	return nil
}

// diskFullURLs are the exchanges of the full-disk runs: 150 of them make
// far more than 64 KiB of JSON, HAR or report lines.
func diskFullURLs() []string {
	urls := make([]string, 150)
	for i := range urls {
		urls[i] = fmt.Sprintf("http://www.lab.test/bytes?n=%d", 1000+i)
	}
	return urls
}

// TestOutputDiskFull runs a command that makes 150 HTTP exchanges with
// htapod's report (-o), JSON lines (--json -o) or HAR (--har) on a file
// system with 16 KiB free, which fills up during the run. The command must
// not notice: its stdout complete, nothing cut. htapod must say on stderr which file
// could not be written and why, exit 125 (its own failure) although the
// command succeeded, and leave no file behind that looks complete but is
// cut: the JSON lines and the report end with a whole line, the HAR file
// is absent or parses.
//
// The exit status 125 for an output that could not be written is the
// documented behaviour (README: "125 when htapod itself failed"); a build
// that only prints the error and exits with the command's status fails
// here.
func TestOutputDiskFull(t *testing.T) {
	tests := []struct {
		name  string
		flags func(dir string) []string
		file  string
		check func(path string) error
	}{
		{"report", func(d string) []string { return []string{"-o", d + "/report.txt"} }, "report.txt", wholeLines},
		{"json", func(d string) []string { return []string{"--json", "-o", d + "/events.jsonl"} }, "events.jsonl",
			func(p string) error { _, err := readJSONLines(p); return err }},
		{"har", func(d string) []string { return []string{"--har", d + "/run.har"} }, "run.har",
			func(p string) error { _, err := readHAR(p); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			// 16 KiB free: less than the report of 150 exchanges.
			dir := tinyDisk(t, e, "full", 64<<10, true, 16<<10)
			urls := diskFullURLs()
			argv := []string{e.client, "http", "-limit", "100s"}
			for _, u := range urls {
				argv = append(argv, "-url", u)
			}
			res := e.runTap(2*time.Minute, lab.RunOptions{}, tt.flags(dir), argv...)

			if got := strings.Count(string(res.Stdout), " status=200 "); got != len(urls) {
				t.Errorf("the command's stdout has %d of %d exchanges: %v", got, len(urls), res)
			}
			stderr := string(res.Stderr)
			if !strings.Contains(stderr, tt.file) || !strings.Contains(stderr, "no space left on device") {
				t.Errorf("htapod's stderr does not say that %s could not be written for lack of space:\n%s", tt.file, stderr)
			}
			if res.ExitCode != 125 {
				t.Errorf("htapod exited %d; want 125 (an output could not be written; the command itself exited 0)", res.ExitCode)
			}
			path := filepath.Join(dir, tt.file)
			if _, err := os.Stat(path); err == nil {
				if err := tt.check(path); err != nil {
					t.Errorf("htapod left a cut %s: %v", tt.file, err)
				}
			}
			if names := dirNames(dir); len(names) > 1 {
				t.Logf("left in the full file system: %v", names)
			}
		})
	}
}

// wholeLines checks that a text file ends with a newline.
func wholeLines(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		return fmt.Errorf("%s ends inside a line: %.200q", path, lastLine(data))
	}
	return nil
}

// dirNames lists dir's entries.
func dirNames(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, de := range ents {
		names = append(names, de.Name())
	}
	return names
}

// TestRunDirFull starts htapod with its run directory's file system full
// (XDG_RUNTIME_DIR pointing at a tmpfs, as a /dev/shm filled by something
// else would be): with no room at all, and with 64 KiB, less than the
// trust files need. htapod must not run the command, exit 125, say what
// failed, where, and what to do about it, and leave nothing behind there.
func TestRunDirFull(t *testing.T) {
	for _, full := range []bool{true, false} {
		t.Run(map[bool]string{true: "no room", false: "64 KiB"}[full], func(t *testing.T) {
			e := newEnv(t)
			dir := tinyDisk(t, e, "shm", 64<<10, full, 0)
			ran := e.path("ran")
			res := e.runTap(time.Minute, lab.RunOptions{Env: []string{"XDG_RUNTIME_DIR=" + dir}}, nil,
				"sh", "-c", "touch "+ran)
			stderr := string(res.Stderr)
			t.Logf("htapod with a full run directory: %v", res)
			if res.ExitCode != 125 {
				t.Errorf("htapod exited %d; want 125", res.ExitCode)
			}
			if _, err := os.Stat(ran); err == nil {
				t.Errorf("the command ran without htapod's trust files")
			}
			for _, want := range []string{dir, "no space left on device", "XDG_RUNTIME_DIR"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("htapod's error does not mention %q:\n%s", want, stderr)
				}
			}
			want := map[bool]int{true: 1, false: 0}[full]
			if names := dirNames(dir); len(names) != want {
				t.Errorf("htapod left %v in the run directory's file system", names)
			}
		})
	}
}
