# htapod's build and test commands. `sudo make test` is the full test run:
# it prepares the machine (scripts/test-setup.sh) and runs every test,
# including the lab tests that need root.

GO ?= go
# Go lives here on the project's machines; keep a caller's own Go first.
export PATH := $(PATH):/usr/local/go/bin
TEST_TIMEOUT ?= 20m

.PHONY: all build test test-setup vet fuzz-smoke

# Every parser of untrusted bytes has a fuzz target; CI runs each briefly
# (longer runs are by hand: FUZZTIME=10m make fuzz-smoke). The default is a
# count of inputs, not a time: a time limit can end a run while a worker is
# mid-input, which Go's fuzzer reports as "context deadline exceeded".
FUZZTIME ?= 100000x
FUZZ_TARGETS := \
	./dissect/http1:FuzzHTTP1 ./dissect/http2:FuzzHTTP2 ./dissect/websocket:FuzzWebSocket \
	./dissect/dns:FuzzUDP ./dissect/dns:FuzzTCP ./dissect/tlshello:FuzzParse \
	./internal/dns:FuzzAnswer ./filter:FuzzParse ./policy:FuzzParse ./internal/httpact:FuzzFastHead

all: build

build:
	$(GO) build -o bin/htapod ./cmd/htapod

test-setup:
	bash scripts/test-setup.sh

test: test-setup
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...
	$(MAKE) fuzz-smoke

fuzz-smoke:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 200x $$pkg > /tmp/htapod-fuzz.log 2>&1 || { cat /tmp/htapod-fuzz.log; exit 1; }; \
	done; echo "fuzz smoke: all targets passed"

vet:
	$(GO) vet ./...

# `sudo make bench` measures what htapod costs against running the same
# commands directly, side by side in the sealed lab (see bench/doc.go), and
# writes the table to BENCH_OUT (default bench-results.md). About 13
# minutes on 2 cores; `sudo make bench BENCH_QUICK=1` takes about 2.
bench:
	bash bench/setup.sh
	HTAPOD_BENCH=1 $(GO) test -count=1 -timeout 40m -run '^TestBench$$' -v ./bench/

.PHONY: bench

# `sudo make reliability-long` runs the reliability suite (reliability/doc.go)
# with its long checks: 1 GiB through TCP and TLS, 20,000 connections, the
# 60 s UDP idle timeout. About 5 minutes on 2 cores; `make test` runs the
# quick suite (about 1.5 minutes) with the other tests.
reliability-long: test-setup
	HTAPOD_LONG=1 $(GO) test -count=1 -timeout 30m -v ./reliability/

.PHONY: reliability-long

# `sudo make soak` runs mixed traffic through htapod at a steady rate for
# SOAK_TIME (default 10 minutes) in the sealed lab, samples htapod's memory,
# open files and goroutines, and writes soak.csv and soak.png (gnuplot,
# installed when missing) to SOAK_OUT. It fails when they keep growing
# after the warm-up. Not part of `make test`.
SOAK_TIME ?= 10m
SOAK_OUT ?= $(CURDIR)/soak-results
soak: test-setup
	command -v gnuplot >/dev/null || bash -c '. scripts/apt-install.sh && apt_install gnuplot-nox'
	HTAPOD_SOAK=$(SOAK_TIME) HTAPOD_SOAK_OUT=$(SOAK_OUT) $(GO) test -count=1 -timeout 40m -run '^TestSoak$$' -v ./reliability/

.PHONY: soak
