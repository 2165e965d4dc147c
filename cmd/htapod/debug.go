package main

import (
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // the profiles, served only when HTAPOD_PPROF asks
	"os"
	"runtime"
	"strings"
)

// servePprof serves Go's profiles and a goroutine count on the loopback
// address in HTAPOD_PPROF (e.g. 127.0.0.1:6060), for profiling htapod and
// for the reliability tests that check it returns to its starting level.
// Only loopback addresses are accepted.
func servePprof() {
	addr := os.Getenv("HTAPOD_PPROF")
	if addr == "" {
		return
	}
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fmt.Fprintf(os.Stderr, "htapod: HTAPOD_PPROF=%q: want a loopback address:port\n", addr)
		return
	}
	http.HandleFunc("/debug/goroutines", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, runtime.NumGoroutine())
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "htapod: HTAPOD_PPROF: %v\n", err)
		return
	}
	go http.Serve(ln, nil)
}

// stripPprofEnv keeps the variable away from the command.
func stripPprofEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "HTAPOD_PPROF=") {
			out = append(out, kv)
		}
	}
	return out
}
