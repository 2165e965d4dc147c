// Package bench is htapod's benchmark: it measures what running a command
// through htapod costs, against the same command run directly, side by side
// in one run, and prints a table of ratios against the project's targets.
//
// The benchmark is a test that runs only when HTAPOD_BENCH=1 is set, so that
// `go test ./...` never runs it. Run it as root with
//
//	sudo make bench                 # about 10 minutes on 2 cores
//	sudo make bench BENCH_QUICK=1   # about 2 minutes: shorter runs, one round
//
// It builds the sealed lab of package internal/lab, starts nginx (HTTP/1.1,
// HTTPS, HTTP/2, signed by the lab's CA), an iperf3 server and a server of
// idle connections in it, and runs each workload as the unprivileged lab
// user: directly, and through htapod exactly as the end-to-end tests run it,
// alternating the two over several rounds and taking medians. Targets are
// goals: a missed target is reported, never a failure. Where pasta and
// slirp4netns are installed (bench/setup.sh installs them), the TCP rows
// and the start-up row get their figures too, as reference columns; for
// pasta the lab gets a default route into a namespace of its own
// (lab.AddUplink). The targets are issue 15's; start-up's is also "no more
// than pasta's", judged in a note under the table.
//
// Environment:
//
//	HTAPOD_BENCH=1   run the benchmark (otherwise TestBench skips)
//	BENCH_QUICK=1    the quick mode
//	BENCH_OUT=FILE   where the Markdown table goes (default
//	                 bench-results.md at the module root; a relative
//	                 path is taken from the module root)
//	BENCH_PERF=DIR   after each workload, one more run through htapod with
//	                 `perf record -g` on htapod's process; reports in DIR
//	BENCH_ONLY=RE    run only the workloads whose name matches RE
//	HTAPOD_BIN=FILE  measure this htapod binary instead of building one
package bench
