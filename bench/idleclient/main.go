// Command idleclient opens many TCP connections to one server and keeps
// them open and silent, so that the benchmark can read what idle
// connections cost the process that relays them (htapod's RSS).
//
// It prints "idle" before it connects, waits -wait, resolves the server's
// name once, opens -n connections one after another, prints "open N", keeps them for -hold, closes them and
// exits. Everything is bounded: a connection that cannot be made within 5
// seconds ends the run with exit status 1.
//
//	idleclient -addr 203.0.113.10:9000 -n 1000 -wait 3s -hold 10s
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	addr := flag.String("addr", "", "the server's `HOST:PORT`")
	n := flag.Int("n", 1000, "the number of connections")
	wait := flag.Duration("wait", 3*time.Second, "how long to stay idle before connecting")
	hold := flag.Duration("hold", 10*time.Second, "how long to keep the connections open")
	flag.Parse()
	if *addr == "" || *n < 1 || *n > 100000 {
		fmt.Fprintln(os.Stderr, "usage: idleclient -addr HOST:PORT [-n 1..100000] [-wait D] [-hold D]")
		os.Exit(2)
	}
	if err := run(*addr, *n, *wait, *hold); err != nil {
		fmt.Fprintf(os.Stderr, "idleclient: %v\n", err)
		os.Exit(1)
	}
}

// run does the whole session; it closes every connection it made.
func run(addr string, n int, wait, hold time.Duration) error {
	fmt.Println("idle")
	time.Sleep(wait)
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// Resolve once: a lookup per dial would add n DNS exchanges to what
	// is measured, and their garbage to the relay's RSS.
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	ips, err := net.LookupHost(host)
	if err != nil {
		return err
	}
	target := net.JoinHostPort(ips[0], port)
	for i := range n {
		c, err := net.DialTimeout("tcp", target, 5*time.Second)
		if err != nil {
			return fmt.Errorf("connection %d of %d: %w", i+1, n, err)
		}
		conns = append(conns, c)
	}
	fmt.Printf("open %d\n", len(conns))
	time.Sleep(hold)
	fmt.Println("done")
	return nil
}
