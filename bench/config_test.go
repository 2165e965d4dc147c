package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// A config is how long and how often the benchmark measures, read from the
// environment by configFromEnv.
type config struct {
	// quick is BENCH_QUICK=1: shorter runs and one round.
	quick bool
	// rounds is how many times each workload runs in each mode.
	rounds int
	// dur is the length of one timed run (iperf3 -t, wrk -d, h2load -D).
	dur time.Duration
	// startRuns is how many times `true` and `htapod -- true` each run.
	startRuns int
	// bulk is the size of the file of the TLS download.
	bulk int64
	// idleConns is how many idle connections the memory workload opens.
	idleConns int
	// memRounds is how many times the memory workload runs.
	memRounds int
	// out is the absolute path of the Markdown table.
	out string
	// perfDir, if not empty, is where CPU profiles of htapod go.
	perfDir string
	// loadBefore is the load average when the measurements began.
	loadBefore string
	// only, if not nil, selects the workloads by name.
	only *regexp.Regexp
	// htapodEnv is BENCH_HTAPOD_ENV's KEY=value words, added to htapod's
	// environment (not the direct runs'): the lab gives every command a
	// fixed environment, so a GOGC set for go test never reaches htapod.
	htapodEnv []string
}

// configFromEnv reads the BENCH_* variables; root is the module root, to
// which relative paths are taken.
func configFromEnv(root string) (config, error) {
	c := config{
		rounds:    3,
		dur:       10 * time.Second,
		startRuns: 30,
		bulk:      1 << 30,
		idleConns: 1000,
		memRounds: 3,
	}
	if os.Getenv("BENCH_QUICK") == "1" {
		c.quick = true
		c.rounds = 1
		c.dur = 3 * time.Second
		c.bulk = 256 << 20
		c.memRounds = 1
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(root, p)
	}
	c.out = abs("bench-results.md")
	if p := os.Getenv("BENCH_OUT"); p != "" {
		c.out = abs(p)
	}
	if p := os.Getenv("BENCH_PERF"); p != "" {
		c.perfDir = abs(p)
	}
	if s := os.Getenv("BENCH_ONLY"); s != "" {
		re, err := regexp.Compile(s)
		if err != nil {
			return c, errors.New("BENCH_ONLY: " + err.Error())
		}
		c.only = re
	}
	c.htapodEnv = strings.Fields(os.Getenv("BENCH_HTAPOD_ENV"))
	for _, kv := range c.htapodEnv {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return c, fmt.Errorf("BENCH_HTAPOD_ENV: %q is not KEY=value", kv)
		}
	}
	return c, nil
}

// describe says what c measures, for the table's heading.
func (c config) describe() string {
	mode := "full"
	if c.quick {
		mode = "quick (BENCH_QUICK=1)"
	}
	parts := []string{
		"mode " + mode,
		plural(c.rounds, "round") + " of " + c.dur.String() + " runs",
		plural(c.startRuns, "start-up run") + " each",
		"TLS download " + byteSize(c.bulk),
		plural(c.idleConns, "idle connection"),
	}
	if len(c.htapodEnv) > 0 {
		parts = append(parts, "htapod run with "+strings.Join(c.htapodEnv, " "))
	}
	return strings.Join(parts, ", ")
}

// moduleRoot finds the directory of htapod's go.mod above the working
// directory, which go test sets to this package's directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(data), "module github.com/htapod/htapod\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod of github.com/htapod/htapod above the working directory")
		}
		dir = parent
	}
}
