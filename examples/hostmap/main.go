// Command hostmap is the seed's example: the command reaches the host's
// 127.0.0.1 at the virtual address 10.10.10.10, plain on port 80, with
// TLS interception on every other port, and port 25 refused.
//
//	go run ./examples/hostmap -- curl http://10.10.10.10/
package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"

	"github.com/htapod/htapod"
	"github.com/htapod/htapod/route"
)

func main() {
	htapod.Init()
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: hostmap -- COMMAND [ARGS...]")
		os.Exit(2)
	}
	alias := netip.MustParseAddr("10.10.10.10")
	loopback := netip.MustParseAddr("127.0.0.1")
	r := htapod.New(
		htapod.WithNamespaces(htapod.AllNamespaces),
		htapod.WithTCPRouter(route.MatchAddress(alias, loopback,
			route.ByPort(route.ForwardWithTLS).Plain(80).Deny(25))),
		htapod.WithReport(os.Stderr),
	)
	status, err := r.Run(context.Background(), args...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hostmap:", err)
		if hint := htapod.Hint(err); hint != "" {
			fmt.Fprintln(os.Stderr, hint)
		}
		os.Exit(125)
	}
	os.Exit(status.Code)
}
