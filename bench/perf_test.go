package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// record takes a CPU profile of process pid (htapod, all its threads) with
// `perf record -g` for dur, then writes two reports beside it, of htapod's
// own process only (perf also follows the command that htapod starts):
// NAME.flat.txt (self time by symbol) and NAME.cum.txt (time including
// callees), in percent of htapod's samples. The
// returned channel is closed when both are written. Failures become notes:
// a profile is a help, not a measurement.
//
// event is a perf event to sample on every occurrence instead of the CPU
// clock, e.g. "page-faults": where the process touches new memory, which is
// where its RSS grows.
func (b *bench) record(pid int, name, event string, dur time.Duration) chan struct{} {
	done := make(chan struct{})
	data := b.profilePath(name, ".data")
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), dur+time.Minute)
		defer cancel()
		secs := strconv.FormatFloat(dur.Seconds(), 'f', 1, 64)
		sample := []string{"-F", "499"}
		if event != "" {
			sample = []string{"-e", event, "-c", "1"}
		}
		args := append([]string{"record", "-g"}, sample...)
		args = append(args, "-p", strconv.Itoa(pid), "-o", data, "--", "sleep", secs)
		// perf opens an event for each thread it finds; a thread that
		// ends meanwhile fails the whole attach ("No such process"), and
		// htapod starts and ends threads all the time: try again.
		var out []byte
		var err error
		for range 3 {
			out, err = exec.CommandContext(ctx, "perf", args...).CombinedOutput()
			if err == nil || !bytes.Contains(out, []byte("No such process")) {
				break
			}
		}
		// When the process it records ends before the time is up, perf
		// stops early and exits by a signal, with the samples written.
		if err != nil && !bytes.Contains(out, []byte("Captured and wrote")) {
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
			args := append([]string{"report", "-i", data, "--stdio", "-g", "none",
				"--pid", strconv.Itoa(pid), "--percentage", "relative"}, r.args...)
			out, err := exec.CommandContext(ctx, "perf", args...).CombinedOutput()
			if err != nil {
				b.note(name, fmt.Sprintf("perf report: %v: %s", err, tail(string(out), 200)))
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
