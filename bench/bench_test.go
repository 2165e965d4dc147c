package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/htapod/htapod/internal/lab"
)

func TestMain(m *testing.M) { lab.Main(m) }

// TestBench is the benchmark (see the package comment). It fails only when
// a workload cannot be measured at all, never because of a figure.
func TestBench(t *testing.T) {
	if os.Getenv("HTAPOD_BENCH") != "1" {
		t.Skip("the benchmark runs only with HTAPOD_BENCH=1, as root: sudo make bench")
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	cfg, err := configFromEnv(root)
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	l := lab.New(t)
	// What is measured is said before the build: others may commit while
	// the benchmark runs.
	what := measured(root)
	b := &bench{t: t, lab: l, cfg: cfg, htapod: lab.Htapod(t), pki: l.PKI(), notes: map[string][]string{}}
	b.findReferences()
	if b.site, err = b.startNginx(cfg.bulk); err != nil {
		t.Fatalf("bench: %v", err)
	}
	if err := b.startIperf(); err != nil {
		t.Fatalf("bench: %v", err)
	}
	idle := b.startIdleServer()
	idleClient := buildIdleClient(t, root)
	if cfg.perfDir != "" {
		if _, err := exec.LookPath("perf"); err != nil {
			b.note("perf", "BENCH_PERF is set but perf is not installed: no profiles")
			cfg.perfDir, b.cfg.perfDir = "", ""
		} else if err := os.MkdirAll(cfg.perfDir, 0o755); err != nil {
			t.Fatalf("bench: %v", err)
		}
	}

	began := time.Now()
	cfg.loadBefore = loadAvg()
	fmt.Printf("htapod benchmark: %s\n", cfg.describe())
	var lines []*line
	for _, w := range b.workloads(idleClient, idle) {
		if cfg.only != nil && !cfg.only.MatchString(w.name) {
			continue
		}
		lines = append(lines, b.runWorkload(w)...)
	}
	took := time.Since(began).Round(time.Second)

	refs := b.refModes()
	head := heading(what, cfg, took)
	fmt.Printf("\n%s\n%s\n%s", head, textTable(lines, refs), b.noteText())
	md := "# htapod benchmark results\n\n" + head + "\n" + markdownTable(lines, refs) + "\n" + b.noteText()
	if err := os.WriteFile(cfg.out, []byte(md), 0o644); err != nil {
		t.Errorf("bench: write the table: %v", err)
	} else {
		fmt.Printf("\nThe table is in %s\n", cfg.out)
	}
	for _, l := range lines {
		if l.err != "" {
			t.Errorf("%s: could not be measured: %s", l.label, l.err)
		}
	}
}

// runWorkload runs w in each of its modes for its rounds, alternating the
// order of the modes from round to round so that neither mode always runs
// on a warmer machine, and returns its lines of the table.
func (b *bench) runWorkload(w workload) []*line {
	rounds := w.rounds
	if rounds == 0 {
		rounds = b.cfg.rounds
	}
	lines := make([]*line, len(w.rows))
	for i, r := range w.rows {
		lines[i] = &line{row: r, samples: map[mode][]float64{}}
	}
	all := map[string][]float64{} // every metric of htapod's runs
	verbose := rounds <= 5
	for round := range rounds {
		order := slices.Clone(w.modes)
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, m := range order {
			got, err := w.measure(m)
			if err != nil {
				b.note(w.name, fmt.Sprintf("round %d, %s: %v", round+1, m, err))
				fmt.Printf("  %-16s round %d/%d  %-11s  error: %v\n", w.name, round+1, rounds, m, err)
				continue
			}
			for _, l := range lines {
				if v, ok := got[l.key]; ok {
					l.samples[m] = append(l.samples[m], v)
				}
			}
			if m == tapped {
				for k, v := range got {
					all[k] = append(all[k], v)
				}
			}
			if verbose {
				fmt.Printf("  %-16s round %d/%d  %-11s  %s\n", w.name, round+1, rounds, m, b.show(lines, got))
			}
		}
	}
	for _, l := range lines {
		for _, m := range w.modes {
			if len(l.samples[m]) > 0 {
				continue
			}
			if slices.Contains(references, m) {
				// A reference only: its failure is a note, not an error.
				b.note(w.name, m.String()+": no successful run")
				continue
			}
			l.err = fmt.Sprintf("no successful run %s (see the notes)", m)
		}
		if !verbose {
			fmt.Printf("  %-16s %d runs each: direct %s, htapod %s (medians)\n", w.name, rounds,
				l.unit.value(median(l.samples[direct])), l.unit.value(median(l.samples[tapped])))
		}
	}
	for _, l := range lines {
		for _, m := range w.modes {
			if lo, hi, what := spread(l.samples[m]); hi > 1.5*lo && lo > 0 {
				b.note(l.key, fmt.Sprintf("%s: %s from %s to %s: the median is a rough figure",
					m, what, l.unit.value(lo), l.unit.value(hi)))
			}
		}
	}
	for _, l := range lines {
		if n := l.pastaNote(); l.notAbovePasta && n != "" {
			b.note(l.key, n)
		}
	}
	if w.name == "memory" && len(lines) == 1 && len(all["memory-idle"]) > 0 {
		lines[0].detail = fmt.Sprintf("(RSS %.1f → %.1f MiB)", median(all["memory-idle"])/1024, median(all["memory-open"])/1024)
	}
	if b.cfg.perfDir != "" && w.profile > 0 {
		b.profile, b.profileFor, b.profileFaults = w.name, max(w.profile, time.Second), w.profileFaults
		if _, err := w.measure(tapped); err != nil {
			b.note(w.name, "profiled run: "+err.Error())
		}
		b.profile, b.profileFaults = "", false
	}
	return lines
}

// spread returns how far xs range, and says how it was measured: the
// least and the greatest of a few samples, the middle half (the quartiles)
// of five or more, where single outliers say little. It returns 0, 0 for
// fewer than two samples.
func spread(xs []float64) (lo, hi float64, what string) {
	if len(xs) < 2 {
		return 0, 0, ""
	}
	if len(xs) < 5 {
		return slices.Min(xs), slices.Max(xs), "varied across rounds"
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/4], s[(3*len(s))/4], "the middle half of the runs ranged"
}

// show prints the metrics of one run that have rows.
func (b *bench) show(lines []*line, got metrics) string {
	var parts []string
	for _, l := range lines {
		if v, ok := got[l.key]; ok {
			parts = append(parts, l.unit.value(v))
		}
	}
	return strings.Join(parts, ", ")
}

// note records something doubtful about a workload's measurements, for
// the notes under the table. The same note is kept once.
func (b *bench) note(workload, msg string) {
	if !slices.Contains(b.notes[workload], msg) {
		b.notes[workload] = append(b.notes[workload], msg)
		b.noteOrder = append(b.noteOrder, workload)
	}
}

// noteText is the notes as a Markdown list, or "" when there are none.
func (b *bench) noteText() string {
	if len(b.notes) == 0 {
		return ""
	}
	var s strings.Builder
	s.WriteString("Notes:\n\n")
	seen := map[string]bool{}
	for _, w := range b.noteOrder {
		if seen[w] {
			continue
		}
		seen[w] = true
		for _, n := range b.notes[w] {
			fmt.Fprintf(&s, "- %s: %s\n", w, strings.ReplaceAll(n, "\n", " "))
		}
	}
	return s.String()
}

// heading says when, where and how the benchmark ran; what is measured's
// result.
func heading(what string, cfg config, took time.Duration) string {
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	cpu := "unknown CPU"
	if info, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(info), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("Run %s on %d cores (%s), kernel %s, %s, %s; took %v. "+
		"Load average before: %s, after: %s.\n\n%s.\n",
		time.Now().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), cpu, strings.TrimSpace(string(kernel)),
		runtime.Version(), what, took, cfg.loadBefore, loadAvg(), capitalize(cfg.describe()))
}

// measured says which htapod the benchmark measures: $HTAPOD_BIN, or the
// work tree's commit, and whether the work tree differs from it.
func measured(root string) string {
	if p := os.Getenv("HTAPOD_BIN"); p != "" {
		return "htapod from HTAPOD_BIN=" + p
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "htapod of an unknown commit"
	}
	what := "htapod built from the work tree at commit " + strings.TrimSpace(string(out))
	if exec.CommandContext(ctx, "git", "-C", root, "diff", "--quiet", "HEAD", "--").Run() != nil {
		what += " with uncommitted changes"
	}
	return what
}

// loadAvg returns the 1, 5 and 15 minute load averages: on a machine
// that other work shares, the figures mean less.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(data))
	if err != nil || len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// capitalize upper-cases the first letter of s.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// profileDir is where the profile of a workload named name goes.
func (b *bench) profilePath(name, ext string) string {
	return filepath.Join(b.cfg.perfDir, name+ext)
}
