package reliability

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/htapod/htapod/internal/lab"
)

// soakRate is the soak's steady rate, operations a second: modest, so that
// the soak measures whether htapod holds on to memory, files or goroutines
// over time, not how fast it is (on 2 cores it takes about a third of one).
const soakRate = 150

// soakEvery is how often the soak samples htapod.
const soakEvery = 5 * time.Second

// soakWarmUp is the least warm-up: UDP flows live 60 s after their last
// datagram, so their number (and htapod's files and goroutines) levels off
// only after a minute, and RSS some minutes later.
const soakWarmUp = 2 * time.Minute

// A soakSample is htapod's state at one moment of the soak.
type soakSample struct {
	At         time.Duration
	RSS        int64 // bytes
	FDs        int
	Goroutines int
	OK, Failed int64   // the client's running totals
	Rate       float64 // operations a second since the sample before
}

// TestSoak runs mixed traffic (soakMode) through htapod at a steady rate
// for HTAPOD_SOAK (a duration, "10m" with `make soak`; the test skips
// without it), sampling htapod's RSS, open files and goroutines and the
// client's rate every 5 s. It writes soak.csv and, when gnuplot is
// installed, soak.png into HTAPOD_SOAK_OUT (default: the test's temporary
// directory), and fails when, after the warm-up (the first fifth, at least
// 2 minutes), memory,
// files or goroutines keep growing: the last third's median against the
// first third's.
func TestSoak(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("HTAPOD_SOAK"))
	if err != nil || d <= 0 {
		t.Skip("the soak runs with HTAPOD_SOAK=DURATION (`sudo make soak`: 10 minutes)")
	}
	out := os.Getenv("HTAPOD_SOAK_OUT")
	if out == "" {
		out = t.TempDir()
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	pki := e.PKI()
	e.ServeHTTPS(addr(8444), pki.Server, lab.Handler())
	ctx, cancel := context.WithTimeout(context.Background(), d+2*time.Minute)
	defer cancel()
	p := e.tap(ctx, lab.RunOptions{}, []string{"-o", e.path("report.txt"), "--upstream-ca", pki.CAFile},
		e.client, "soak", "-d", d.String(), "-rate", strconv.Itoa(soakRate), "-limit", (d + time.Minute).String())
	e.waitUsage(p, 30*time.Second)

	samples := e.sampleSoak(p, d, filepath.Join(out, "heap.pprof"))
	res := p.Wait()
	if err := writeSoakCSV(filepath.Join(out, "soak.csv"), samples); err != nil {
		t.Errorf("write the CSV: %v", err)
	}
	if msg := plotSoak(out); msg != "" {
		t.Log(msg)
	}
	t.Logf("soak: %d samples in %s", len(samples), out)
	f := wantFields(t, res, "soak")
	if res.ExitCode != 0 {
		t.Errorf("the soak client: %v", res.ExitCode)
	}
	t.Logf("client: %v", f)
	for _, line := range strings.Split(string(res.Stdout), "\n") {
		if strings.HasPrefix(line, "fail ") {
			t.Log(line)
		}
	}
	// htapod's report beside the samples, to look a failure up in.
	if b, err := os.ReadFile(e.path("report.txt")); err == nil {
		os.WriteFile(filepath.Join(out, "report.txt"), b, 0o644)
	}
	if ok, failed := atoi(f["ok"]), atoi(f["err"]); failed*1000 > ok {
		t.Errorf("%d of %d operations failed (more than 0.1 %%); first: %s", failed, ok+failed, f["first_err"])
	}
	checkFlat(t, samples)
}

// sampleSoak samples htapod every soakEvery until the client ends (or d
// and a minute have passed). Near the end it saves htapod's heap profile
// to heapFile (`go tool pprof -top heap.pprof`: where the memory is).
func (e *env) sampleSoak(p *lab.Proc, d time.Duration, heapFile string) []soakSample {
	e.t.Helper()
	start := time.Now()
	heapSaved := false
	var samples []soakSample
	tick := time.NewTicker(soakEvery)
	defer tick.Stop()
	for time.Since(start) < d+time.Minute {
		select {
		case <-p.Done():
			return samples
		case <-tick.C:
		}
		u, err := e.usage(p)
		if err != nil {
			continue // ending, or a busy moment; the next sample counts
		}
		s := soakSample{At: time.Since(start), FDs: u.FDs, Goroutines: u.Goroutines, RSS: vmRSS(p.Cmd.Process.Pid)}
		tf := fields(p.Stdout.Bytes(), "tick")
		s.OK, s.Failed = atoi(tf["ok"]), atoi(tf["err"])
		if n := len(samples); n > 0 {
			prev := samples[n-1]
			s.Rate = float64(s.OK+s.Failed-prev.OK-prev.Failed) / (s.At - prev.At).Seconds()
		}
		samples = append(samples, s)
		if !heapSaved && s.At > d-3*soakEvery {
			heapSaved = true
			if err := e.savePprof("/debug/pprof/heap?gc=1", heapFile); err != nil {
				e.t.Logf("heap profile: %v", err)
			}
		}
	}
	return samples
}

// savePprof saves what htapod's debug server answers at path (see
// goroutines) to file.
func (e *env) savePprof(path, file string) error {
	client := &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext:       func(_ context.Context, network, addr string) (net.Conn, error) { return e.Dial(network, addr) },
			DisableKeepAlives: true,
		},
	}
	defer client.CloseIdleConnections()
	resp, err := client.Get("http://" + pprofAddr + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	return os.WriteFile(file, data, 0o644)
}

// vmRSS is the resident memory of process pid in bytes, or -1.
func vmRSS(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return -1
			}
			return kb << 10
		}
	}
	return -1
}

// writeSoakCSV writes the samples, one line each.
func writeSoakCSV(path string, samples []soakSample) error {
	var b strings.Builder
	b.WriteString("seconds,rss_mib,fds,goroutines,ops_per_s,ok,failed\n")
	for _, s := range samples {
		fmt.Fprintf(&b, "%.1f,%.2f,%d,%d,%.1f,%d,%d\n", s.At.Seconds(), float64(s.RSS)/(1<<20),
			s.FDs, s.Goroutines, s.Rate, s.OK, s.Failed)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// soakPlot is the gnuplot script for soak.png: memory, files and
// goroutines above, the client's rate below.
const soakPlot = `set datafile separator ","
set terminal png size 1000,700
set output "soak.png"
set multiplot layout 2,1 title "htapod soak: mixed traffic at a steady rate"
set key below
set xlabel "seconds"
set ylabel "RSS (MiB)"
set y2label "open files, goroutines"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
plot "soak.csv" using 1:2 with lines lw 2 title "RSS (MiB)", \
     "soak.csv" using 1:3 axes x1y2 with lines title "open files", \
     "soak.csv" using 1:4 axes x1y2 with lines title "goroutines"
unset y2label
unset y2tics
set ylabel "operations/s"
plot "soak.csv" using 1:5 every ::1 with lines lw 2 title "client operations/s"
unset multiplot
`

// plotSoak draws soak.png from soak.csv in dir with gnuplot and returns
// what went wrong, or "".
func plotSoak(dir string) string {
	if _, err := exec.LookPath("gnuplot"); err != nil {
		return "no gnuplot: soak.csv only (Debian: apt-get install gnuplot-nox)"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "gnuplot")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(soakPlot)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Sprintf("gnuplot: %v: %s", err, out)
	}
	return ""
}

// checkFlat fails t when, after the warm-up (the first fifth of the
// samples, and at least soakWarmUp), the median of the last third is above the median of the
// first third by more than a margin: RSS by 20 % and 8 MiB, open files
// and goroutines by 20 % and 20.
func checkFlat(t *testing.T, samples []soakSample) {
	t.Helper()
	warm := max(len(samples)/5, int(soakWarmUp/soakEvery))
	if len(samples)-warm < 30 {
		t.Logf("only %d samples after a warm-up of %v: too few to judge flatness (run 6 minutes or more)",
			len(samples)-warm, soakWarmUp)
		return
	}
	steady := samples[warm:]
	third := len(steady) / 3
	early, late := steady[:third], steady[len(steady)-third:]
	series := []struct {
		name  string
		value func(soakSample) float64
		slack float64
	}{
		{"RSS (MiB)", func(s soakSample) float64 { return float64(s.RSS) / (1 << 20) }, 8},
		{"open files", func(s soakSample) float64 { return float64(s.FDs) }, 20},
		{"goroutines", func(s soakSample) float64 { return float64(s.Goroutines) }, 20},
	}
	for _, s := range series {
		a, b := median(early, s.value), median(late, s.value)
		t.Logf("%s: median %.1f after the warm-up, %.1f at the end", s.name, a, b)
		if b > a*1.2+s.slack {
			t.Errorf("%s grew from %.1f to %.1f after the warm-up: not flat", s.name, a, b)
		}
	}
	rates := median(steady, func(s soakSample) float64 { return s.Rate })
	t.Logf("client rate: median %.1f operations/s (%d asked for)", rates, soakRate)
}

// median is the median of value over samples.
func median(samples []soakSample, value func(soakSample) float64) float64 {
	v := make([]float64, len(samples))
	for i, s := range samples {
		v[i] = value(s)
	}
	slices.Sort(v)
	return v[len(v)/2]
}
