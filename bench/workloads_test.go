package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// metrics are the figures one run of a workload measured, by key.
type metrics map[string]float64

// A workload is one thing the benchmark measures, in each of its modes.
type workload struct {
	// name is short and unique: for progress lines, BENCH_ONLY and the
	// file names of profiles.
	name string
	// rows are the lines of the table that the workload's metrics fill.
	rows []row
	// modes are the modes it runs in, in the order of the first round;
	// later rounds alternate the order.
	modes []mode
	// rounds overrides config.rounds when not 0.
	rounds int
	// measure runs the workload once in mode m.
	measure func(m mode) (metrics, error)
	// profile is how long a CPU profile of htapod should record while
	// the workload runs; 0 means the workload is not profiled.
	profile time.Duration
	// profileFaults profiles page faults instead of CPU time (memory).
	profileFaults bool
}

// A row is a line of the table: one metric of a workload.
type row struct {
	label  string
	key    string // the metric
	unit   unit
	target target
	// ref marks the rows that get the reference columns (pasta,
	// slirp4netns).
	ref bool
	// notAbovePasta: the target also asks that htapod's figure be no more
	// than pasta's (start-up), which a note under the table judges.
	notAbovePasta bool
}

// workloads are the benchmark's workloads, in the order of the table.
func (b *bench) workloads(idleClient string, idle *idleServer) []workload {
	d := b.cfg.dur
	secs := strconv.Itoa(int(d.Seconds()))
	timeout := d + time.Minute
	httpURL := "http://" + host + smallFile
	httpsURL := "https://" + host + smallFile
	tcpModes := append([]mode{direct, tapped}, b.refModes()...)
	script := b.lab.WriteFile("bench.lua", []byte(wrkScript), 0o644)
	wrk := func(key string, args ...string) func(mode) (metrics, error) {
		return func(m mode) (metrics, error) {
			argv := append([]string{"wrk", "-d", secs + "s", "--timeout", "5s", "-s", script}, args...)
			res, err := b.exec(m, timeout, argv...)
			if err != nil {
				return nil, err
			}
			w, err := parseWrk(string(res.Stdout))
			if err != nil {
				return nil, err
			}
			if len(w.errors) > 0 {
				b.note(key, fmt.Sprintf("wrk counted errors %s: %v", m, w.errors))
			}
			return metrics{key: w.rate(), key + "-p50": w.p50US, key + "-p99": w.p99US}, nil
		}
	}
	iperf := func(key string, extra ...string) func(mode) (metrics, error) {
		return func(m mode) (metrics, error) {
			argv := append([]string{"iperf3", "-c", host, "-p", iperfPort, "-t", secs, "-J"}, extra...)
			res, err := b.exec(m, timeout, argv...)
			if err != nil {
				return nil, err
			}
			bps, err := parseIperf(res.Stdout)
			if err != nil {
				return nil, err
			}
			return metrics{key: bps / 1e9}, nil
		}
	}
	return []workload{
		{
			name: "startup",
			rows: []row{{label: "start-up: `htapod -- true` vs `true`", key: "startup", unit: ms, target: addedAtMost(40),
				ref: true, notAbovePasta: true}},
			modes:  append([]mode{direct, tapped}, b.refModes()...),
			rounds: b.cfg.startRuns,
			measure: func(m mode) (metrics, error) {
				argv := []string{"true"}
				switch m {
				case tapped:
					argv = []string{b.htapod, "--", "true"}
				case viaPasta, viaSlirp:
					argv = b.refArgv(m, argv)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				res := b.lab.Run(ctx, b.runOptions(m), argv...)
				if res.ExitCode != 0 {
					return nil, fmt.Errorf("%s %q: %s", m, argv, brief(res))
				}
				return metrics{"startup": float64(res.Duration) / 1e6}, nil
			},
		},
		{
			name:    "tcp-up",
			rows:    []row{{label: "TCP bulk, command → server (iperf3 -t " + secs + ")", key: "tcp-up", unit: gbits, target: ratioAtLeast(0.6), ref: true}},
			modes:   tcpModes,
			measure: iperf("tcp-up"),
			profile: d - time.Second,
		},
		{
			name:    "tcp-down",
			rows:    []row{{label: "TCP bulk, server → command (iperf3 -R)", key: "tcp-down", unit: gbits, target: ratioAtLeast(0.6), ref: true}},
			modes:   tcpModes,
			measure: iperf("tcp-down", "-R"),
			profile: d - time.Second,
		},
		{
			name:    "http-c10",
			rows:    []row{{label: "HTTP/1.1 keep-alive 1 KiB, 10 conns, dissected (wrk)", key: "http-c10", unit: reqs, target: ratioAtLeast(0.5)}},
			modes:   []mode{direct, tapped},
			measure: wrk("http-c10", "-t", "2", "-c", "10", httpURL),
			profile: d - time.Second,
		},
		{
			name:    "http-c100",
			rows:    []row{{label: "HTTP/1.1 keep-alive 1 KiB, 100 conns, dissected (wrk)", key: "http-c100", unit: reqs, target: ratioAtLeast(0.5)}},
			modes:   []mode{direct, tapped},
			measure: wrk("http-c100", "-t", "2", "-c", "100", httpURL),
			profile: d - time.Second,
		},
		b.policyWorkload(secs, timeout, httpURL),
		{
			name:    "https-keepalive",
			rows:    []row{{label: "HTTPS intercepted keep-alive 1 KiB, 10 conns (wrk)", key: "https-keepalive", unit: reqs, target: ratioAtLeast(0.4)}},
			modes:   []mode{direct, tapped},
			measure: wrk("https-keepalive", "-t", "2", "-c", "10", httpsURL),
			profile: d - time.Second,
		},
		{
			name:    "https-close",
			rows:    []row{{label: "HTTPS new connection per request, 10 conns (wrk, Connection: close)", key: "https-close", unit: reqs, target: ratioAtLeast(0.3)}},
			modes:   []mode{direct, tapped},
			measure: wrk("https-close", "-t", "2", "-c", "10", "-H", "Connection: close", httpsURL),
			profile: d - time.Second,
		},
		{
			name:  "h2",
			rows:  []row{{label: "HTTP/2, 10 conns × 100 streams (h2load -m 100)", key: "h2", unit: reqs, target: ratioAtLeast(0.5)}},
			modes: []mode{direct, tapped},
			measure: func(m mode) (metrics, error) {
				res, err := b.exec(m, timeout, "h2load", "-c", "10", "-m", "100", "-t", "2",
					"-D", secs, "--warm-up-time", "1", httpsURL)
				if err != nil {
					return nil, err
				}
				h, err := parseH2load(string(res.Stdout))
				if err != nil {
					return nil, err
				}
				if h.failed+h.errored > 0 {
					b.note("h2", fmt.Sprintf("h2load %s: %.0f failed, %.0f errored", m, h.failed, h.errored))
				}
				return metrics{"h2": h.rate}, nil
			},
			profile: d - time.Second,
		},
		{
			name:  "tls-bulk",
			rows:  []row{{label: "TLS bulk download " + byteSize(b.cfg.bulk) + " (curl --http1.1)", key: "tls-bulk", unit: mbytes, target: ratioAtLeast(0.5)}},
			modes: []mode{direct, tapped},
			measure: func(m mode) (metrics, error) {
				argv := []string{"curl", "-sS", "--http1.1", "--max-time", "300", "-o", "/dev/null", "-w", curlFormat}
				if m != tapped {
					// Through htapod curl trusts htapod's CA, which htapod
					// puts in the box's store; directly, it trusts the lab's.
					argv = append(argv, "--cacert", b.pki.CAFile)
				}
				res, err := b.exec(m, 6*time.Minute, append(argv, "https://"+host+bulkFile)...)
				if err != nil {
					return nil, err
				}
				bps, err := parseCurl(string(res.Stdout), b.cfg.bulk)
				if err != nil {
					return nil, err
				}
				return metrics{"tls-bulk": bps / 1e6}, nil
			},
			profile: 2 * time.Second,
		},
		{
			name: "latency",
			rows: []row{
				{label: "latency per request p50, 1 conn (wrk --latency)", key: "latency-p50", unit: us, target: info()},
				{label: "latency per request p99, 1 conn (wrk --latency)", key: "latency-p99", unit: us, target: ratioAtMost(2)},
			},
			modes: []mode{direct, tapped},
			measure: func(m mode) (metrics, error) {
				r, err := wrk("latency", "-t", "1", "-c", "1", "--latency", httpURL)(m)
				if err != nil {
					return nil, err
				}
				return metrics{"latency-p50": r["latency-p50"], "latency-p99": r["latency-p99"]}, nil
			},
		},
		{
			name:   "memory",
			rows:   []row{{label: "memory: " + strconv.Itoa(b.cfg.idleConns) + " idle connections (htapod's RSS)", key: "memory", unit: kibPerConn, target: perConnAtMost(64)}},
			modes:  []mode{tapped},
			rounds: b.cfg.memRounds,
			measure: func(m mode) (metrics, error) {
				return b.memory(idleClient, idle)
			},
			profile:       6 * time.Second,
			profileFaults: true,
		},
	}
}

// memory runs idleclient through htapod and reads htapod's VmRSS while
// the client is idle and again while it holds its connections open. The
// PID is that of htapod itself: `ip netns exec` and setpriv exec, they do
// not fork, and htapod's parent process is the one that runs the netstack.
func (b *bench) memory(idleClient string, idle *idleServer) (metrics, error) {
	n := b.cfg.idleConns
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := b.start(ctx, tapped, idleClient, "-addr", net.JoinHostPort(host, idlePort),
		"-n", strconv.Itoa(n), "-wait", "3s", "-hold", "6s")
	pid := r.proc.Cmd.Process.Pid
	rss := func() (float64, error) {
		status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			return 0, err
		}
		return vmRSS(string(status))
	}
	fail := func(what string, err error) (metrics, error) {
		res, werr := r.wait()
		if werr != nil {
			return nil, fmt.Errorf("%s: %v; %w", what, err, werr)
		}
		return nil, fmt.Errorf("%s: %v (%s)", what, err, brief(res))
	}
	if !r.proc.Stdout.WaitFor(ctx, "idle") {
		return fail("idleclient did not start", ctx.Err())
	}
	// The command is running: htapod has finished starting up.
	time.Sleep(2 * time.Second)
	before, err := rss()
	if err != nil {
		return fail("read htapod's RSS", err)
	}
	if b.profile != "" && b.profileFaults {
		// From idle on: where the connections make htapod's RSS grow.
		r.perf = b.record(pid, b.profile, "page-faults", b.profileFor)
		b.profile = ""
	}
	want := "open " + strconv.Itoa(n)
	if !r.proc.Stdout.WaitFor(ctx, want) {
		return fail("idleclient did not print "+strconv.Quote(want), ctx.Err())
	}
	time.Sleep(2 * time.Second)
	after, err := rss()
	if err != nil {
		return fail("read htapod's RSS", err)
	}
	server := idle.open.Load()
	if _, err := r.wait(); err != nil {
		return nil, err
	}
	if server < int64(n) {
		b.note("memory", fmt.Sprintf("the server had only %d of %d connections open at the measurement", server, n))
	}
	return metrics{"memory": (after - before) / float64(n), "memory-idle": before, "memory-open": after}, nil
}
