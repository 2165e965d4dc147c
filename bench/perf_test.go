package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// record takes a CPU profile of process pid (htapod, all its threads) with
// `perf record -g` for dur, then writes two reports beside it: NAME.flat.txt
// (self time by symbol) and NAME.cum.txt (time including callees). The
// returned channel is closed when both are written. Failures become notes:
// a profile is a help, not a measurement.
func (b *bench) record(pid int, name string, dur time.Duration) chan struct{} {
	done := make(chan struct{})
	data := b.profilePath(name, ".data")
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), dur+time.Minute)
		defer cancel()
		secs := strconv.FormatFloat(dur.Seconds(), 'f', 1, 64)
		out, err := exec.CommandContext(ctx, "perf", "record", "-g", "-F", "499", "-p", strconv.Itoa(pid),
			"-o", data, "--", "sleep", secs).CombinedOutput()
		if err != nil {
			b.note(name, fmt.Sprintf("perf record: %v: %s", err, tail(string(out), 300)))
			return
		}
		reports := []struct {
			ext  string
			args []string
		}{
			{".flat.txt", []string{"--no-children", "--sort", "dso,symbol", "--percent-limit", "0.5"}},
			{".cum.txt", []string{"--children", "--sort", "symbol", "--percent-limit", "2"}},
		}
		for _, r := range reports {
			args := append([]string{"report", "-i", data, "--stdio", "-g", "none"}, r.args...)
			out, err := exec.CommandContext(ctx, "perf", args...).Output()
			if err != nil {
				b.note(name, fmt.Sprintf("perf report: %v", err))
				return
			}
			if err := os.WriteFile(b.profilePath(name, r.ext), out, 0o644); err != nil {
				b.note(name, err.Error())
				return
			}
		}
	}()
	return done
}
