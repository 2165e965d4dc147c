package bench

import (
	"math"
	"strings"
	"testing"
)

// The parsers and the table run in `go test ./...`, without the lab: they
// are what turns the tools' output into the figures of the table.

func TestParseWrk(t *testing.T) {
	out := "Running 3s test @ http://api.lab.test/1k.bin\n  2 threads and 10 connections\n" +
		"bench: requests=222630 duration_us=3000512 bytes=290035678 p50_us=103 p99_us=1210 connect=0 read=2 write=0 status=0 timeout=0\n"
	w, err := parseWrk(out)
	if err != nil {
		t.Fatalf("parseWrk: %v", err)
	}
	if w.requests != 222630 || w.p50US != 103 || w.p99US != 1210 {
		t.Errorf("parseWrk = %+v; want 222630 requests, p50 103, p99 1210", w)
	}
	if got := math.Round(w.rate()); got != 74197 {
		t.Errorf("rate = %v; want 74197", got)
	}
	if len(w.errors) != 1 || w.errors["read"] != 2 {
		t.Errorf("errors = %v; want only read=2", w.errors)
	}
	for _, bad := range []string{"", "Running 3s test\n", "bench: requests=0 duration_us=1\n", "bench: requests=x\n"} {
		if _, err := parseWrk(bad); err == nil {
			t.Errorf("parseWrk(%q): no error", bad)
		}
	}
}

func TestParseIperf(t *testing.T) {
	bps, err := parseIperf([]byte(`{"start":{},"end":{"sum_sent":{"bits_per_second":2.8e9},"sum_received":{"bits_per_second":2.75e9}}}`))
	if err != nil || bps != 2.75e9 {
		t.Errorf("parseIperf = %v, %v; want 2.75e9", bps, err)
	}
	if _, err := parseIperf([]byte(`{"end":{},"error":"unable to connect to server"}`)); err == nil ||
		!strings.Contains(err.Error(), "unable to connect") {
		t.Errorf("parseIperf of an error document: %v; want iperf3's error", err)
	}
}

func TestParseH2load(t *testing.T) {
	out := `starting benchmark...
finished in 3.00s, 99805.33 req/s, 108.37MB/s
requests: 299416 total, 300416 started, 299416 done, 299416 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 299416 2xx, 0 3xx, 0 4xx, 0 5xx
`
	h, err := parseH2load(out)
	if err != nil || h.rate != 99805.33 || h.succeeded != 299416 || h.failed != 0 {
		t.Errorf("parseH2load = %+v, %v; want 99805.33 req/s, 299416 succeeded", h, err)
	}
	if _, err := parseH2load("starting benchmark...\n"); err == nil {
		t.Errorf("parseH2load without a summary: no error")
	}
}

func TestParseCurl(t *testing.T) {
	tests := []struct {
		out     string
		want    float64
		wantErr bool
	}{
		{"298000000 268435456 200\n", 298e6, false},
		{"298000000 1000 200\n", 0, true},
		{"0 0 000\n", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := parseCurl(tt.out, 256<<20)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("parseCurl(%q) = %v, %v; want %v, error %v", tt.out, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestVMRSS(t *testing.T) {
	kib, err := vmRSS("Name:\thtapod\nVmPeak:\t 1300000 kB\nVmRSS:\t   20684 kB\nRssAnon:\t 9000 kB\n")
	if err != nil || kib != 20684 {
		t.Errorf("vmRSS = %v, %v; want 20684", kib, err)
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v; want %v", tt.in, got, tt.want)
		}
	}
	if !math.IsNaN(median(nil)) {
		t.Errorf("median(nil) is a number; want NaN")
	}
}

func TestTargetMet(t *testing.T) {
	tests := []struct {
		target    target
		d, h      float64
		met, ok   bool
		describes string
	}{
		{ratioAtLeast(0.5), 100, 50, true, true, "≥ 0.5"},
		{ratioAtLeast(0.5), 100, 49, false, true, "≥ 0.5"},
		{ratioAtMost(2), 100, 250, false, true, "≤ 2×"},
		{addedAtMost(15), 5, 19, true, true, "≤ +15 ms"},
		{perConnAtMost(64), math.NaN(), 67, false, true, "≤ 64 ms"},
		{info(), 1, 2, false, false, "(info)"},
	}
	for _, tt := range tests {
		met, ok := tt.target.met(tt.d, tt.h)
		if met != tt.met || ok != tt.ok {
			t.Errorf("%+v.met(%v, %v) = %v, %v; want %v, %v", tt.target, tt.d, tt.h, met, ok, tt.met, tt.ok)
		}
		if got := tt.target.describe(ms); got != tt.describes {
			t.Errorf("%+v.describe(ms) = %q; want %q", tt.target, got, tt.describes)
		}
	}
}

func TestTable(t *testing.T) {
	lines := []*line{
		{row: row{label: "HTTP", key: "http", unit: reqs, target: ratioAtLeast(0.5)},
			samples: map[mode][]float64{direct: {1000, 1200, 1100}, tapped: {600, 500, 700}}},
		{row: row{label: "start-up", key: "startup", unit: ms, target: addedAtMost(15)},
			samples: map[mode][]float64{direct: {5}, tapped: {25}}},
		{row: row{label: "memory", key: "memory", unit: kibPerConn, target: perConnAtMost(64)},
			samples: map[mode][]float64{tapped: {40}}, detail: "(RSS 20.0 → 59.1 MiB)"},
		{row: row{label: "broken", key: "b", unit: reqs, target: ratioAtLeast(0.4)},
			samples: map[mode][]float64{direct: {10}}, err: "no successful run htapod"},
	}
	want := `| workload | direct | htapod | ratio htapod/direct | target | met? |
| --- | --- | --- | --- | --- | --- |
| HTTP | 1100 req/s | 600 req/s | 0.55 | ≥ 0.5 | yes |
| start-up | 5.0 ms | 25.0 ms | 5.00 (+20.0 ms) | ≤ +15 ms | no |
| memory | — | 40.0 KiB/conn (RSS 20.0 → 59.1 MiB) | — | ≤ 64 KiB/conn | yes |
| broken | 10 req/s | error | — | ≥ 0.4 | — |
`
	if got := markdownTable(lines, nil); got != want {
		t.Errorf("markdownTable =\n%s\nwant\n%s", got, want)
	}

	// With the reference columns: a figure and its ratio to direct on the
	// rows that have them, a dash where a tool never succeeded.
	lines = []*line{
		{row: row{label: "TCP up", key: "tcp-up", unit: gbits, target: ratioAtLeast(0.5), ref: true},
			samples: map[mode][]float64{direct: {40}, tapped: {10}, viaPasta: {8}}},
		{row: row{label: "start-up", key: "startup", unit: ms, target: addedAtMost(15), ref: true, notAbovePasta: true},
			samples: map[mode][]float64{direct: {5}, tapped: {25}, viaPasta: {20}}},
	}
	want = `| workload | direct | htapod | ratio htapod/direct | target | met? | pasta (ratio to direct) | slirp4netns (ratio to direct) |
| --- | --- | --- | --- | --- | --- | --- | --- |
| TCP up | 40.00 Gbit/s | 10.00 Gbit/s | 0.25 | ≥ 0.5 | no | 8.00 Gbit/s (0.20) | — |
| start-up | 5.0 ms | 25.0 ms | 5.00 (+20.0 ms) | ≤ +15 ms | no | 20.0 ms (4.00, +15.0 ms) | — |
`
	if got := markdownTable(lines, references); got != want {
		t.Errorf("markdownTable with references =\n%s\nwant\n%s", got, want)
	}
	for _, l := range lines {
		want := map[string]string{"startup": "target also ≤ pasta: htapod 25.0 ms, pasta 20.0 ms (medians): not met"}[l.key]
		if got := l.pastaNote(); l.notAbovePasta && got != want {
			t.Errorf("%s: pastaNote() = %q; want %q", l.key, got, want)
		}
	}
}

// TestHtapodEnv: BENCH_HTAPOD_ENV reaches htapod's runs only, and the
// results say it was set.
func TestHtapodEnv(t *testing.T) {
	t.Setenv("BENCH_HTAPOD_ENV", "GOGC=off  GOMAXPROCS=1")
	c, err := configFromEnv(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{cfg: c}
	if got := b.runOptions(tapped).Env; len(got) != 2 || got[0] != "GOGC=off" || got[1] != "GOMAXPROCS=1" {
		t.Errorf("htapod's environment = %q", got)
	}
	if got := b.runOptions(direct).Env; len(got) != 0 {
		t.Errorf("a direct run's environment = %q; want none added", got)
	}
	if !strings.Contains(c.describe(), "htapod run with GOGC=off GOMAXPROCS=1") {
		t.Errorf("describe() = %q; want the environment named", c.describe())
	}
	t.Setenv("BENCH_HTAPOD_ENV", "GOGC")
	if _, err := configFromEnv(t.TempDir()); err == nil {
		t.Error("BENCH_HTAPOD_ENV=GOGC: no error")
	}
}
