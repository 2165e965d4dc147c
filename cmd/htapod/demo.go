package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"

	"github.com/htapod/htapod"
)

// demoAddr is the inner address the demo maps to the host's loopback.
var demoAddr = netip.MustParseAddr("10.10.10.10")

// demo shows htapod at work on a machine without internet: a web server on
// the host's loopback, mapped into the box, and a client run through the
// tap.
func demo(w io.Writer) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(w, "htapod demo: cannot listen on the host's loopback: %v\n", err)
		return 125
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(rw, "Hello from the host's loopback! You asked for %s %s.\n", r.Method, r.URL.Path)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	url := fmt.Sprintf("http://%s:%d/hello", htapod.HostName, port)
	client := demoClient(url)

	fmt.Fprintf(w, "htapod demo: a web server listens on the host's 127.0.0.1:%d.\n", port)
	fmt.Fprintf(w, "In htapod's box, %s (%s) is mapped to the host's loopback.\n", demoAddr, htapod.HostName)
	fmt.Fprintf(w, "Running:  htapod --map-host %s -- %s\n\n", demoAddr, strings.Join(client, " "))
	r := htapod.New(htapod.WithHostMap(demoAddr), htapod.WithReport(w))
	status, err := r.Run(context.Background(), client...)
	if err != nil {
		reportFailure(err)
		return 125
	}
	fmt.Fprintf(w, "\nAbove: the command's output and htapod's report: the DNS lookups htapod answered\n"+
		"and the HTTP exchange it relayed and read. The command exited with status %d.\n", status.Code)
	return status.Code
}

// demoClient picks an HTTP client that is installed, or htapod itself.
func demoClient(url string) []string {
	if _, err := exec.LookPath("curl"); err == nil {
		return []string{"curl", "-sS", url}
	}
	if _, err := exec.LookPath("wget"); err == nil {
		return []string{"wget", "-qO-", url}
	}
	self, _ := os.Executable()
	return []string{self, fetchCmd, url}
}

// fetchCmd is a hidden subcommand: a minimal HTTP client for the demo on
// machines that have neither curl nor wget.
const fetchCmd = "__fetch"

func fetch(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fetch: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	io.Copy(os.Stdout, resp.Body)
	return 0
}
