// Package reliability holds htapod's reliability suite: end-to-end checks
// that htapod keeps its promises under volume, concurrency, churn and bad
// input, and that it ends cleanly. Each check runs htapod as the
// unprivileged lab user inside the sealed lab of internal/lab, against Go
// servers of the test process that live in the lab, and compares what both
// ends saw (and, where it matters, what the same client saw without
// htapod):
//
//   - integrity: bytes up and down through plain TCP and intercepted TLS
//     arrive with the same SHA-256 on both ends;
//   - concurrency: 2,000 connections held open at once all complete;
//   - churn: after thousands of short connections htapod's open files and
//     goroutines return to their starting level;
//   - TCP states under load: half-close, reset and refused behave as
//     without htapod while 50 connections transfer;
//   - UDP: a request/response stream at 10,000 datagrams/s loses no more
//     than direct delivery; 1,000 concurrent flows are all answered and
//     expire;
//   - DNS: 10,000 queries through htapod's resolver, every answer right;
//   - lifecycle: SIGINT, SIGTERM and a killed command leave complete
//     outputs (JSON lines, HAR, pcapng) and the right exit status;
//     --wait-all waits for processes the command left behind;
//   - bad input: garbage, huge and endless headers, a slowloris client and
//     a corrupted TLS record are reported, do not crash htapod, and do not
//     disturb a flow running beside them;
//   - faults: an upstream that resets mid-response and one that goes
//     silent look to the command as they do directly, within about the
//     same time; with the lab's nameserver stopped or its address gone,
//     lookups (C library and Go) fail as directly, and as quickly; the
//     report, JSON or HAR file on a file system that fills up gives a notice
//     and exit status 125 and leaves the command's output whole and no cut
//     file; a full run directory ($XDG_RUNTIME_DIR, /dev/shm) is a clear
//     error that says what to do;
//   - soak (`sudo make soak`, 10 minutes, not in `make test`): mixed
//     traffic at a steady rate, htapod's RSS, open files and goroutines
//     flat after the warm-up, written as a CSV and a plot.
//
// The clients that run inside htapod's box are this test binary itself,
// linked into the lab user's home under the name relclient (see
// client_test.go), so no separate build is needed.
//
// The suite needs root to build the lab and skips without it, like the e2e
// tests: `sudo go test ./reliability/`, about 1.5 minutes on 2 cores. The
// long checks (1 GiB transfers, 20,000 connections, the 60 s UDP idle
// timeout) run with -long or HTAPOD_LONG=1, about 5 minutes:
//
//	sudo make reliability-long
//	sudo go test -timeout 30m ./reliability/ -args -long
//
// HTAPOD_BIN tests another htapod binary than a fresh build of
// ./cmd/htapod.
package reliability
