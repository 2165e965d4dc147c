// Command onlydomain runs a command that may reach one domain (and the
// names below it) and nothing else: every other connection is refused, and
// htapod's report shows each one.
//
//	go run ./examples/onlydomain api.example.com -- ./client
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/htapod/htapod"
	"github.com/htapod/htapod/route"
)

func main() {
	htapod.Init()
	if len(os.Args) < 4 || os.Args[2] != "--" {
		fmt.Fprintln(os.Stderr, "usage: onlydomain DOMAIN -- COMMAND [ARGS...]")
		os.Exit(2)
	}
	domain, argv := os.Args[1], os.Args[3:]
	// Flows are named by the DNS lookups htapod answered; a flow to an
	// address the command never looked up has no name and is denied.
	allow := route.AllowNames([]string{domain, "." + domain}, nil)
	r := htapod.New(
		htapod.WithTCPRouter(allow),
		htapod.WithUDPRouter(allow),
		htapod.WithReport(os.Stderr),
	)
	status, err := r.Run(context.Background(), argv...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "onlydomain:", err)
		os.Exit(125)
	}
	os.Exit(status.Code)
}
