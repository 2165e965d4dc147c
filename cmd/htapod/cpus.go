package main

import (
	"os"
	"runtime"

	"github.com/htapod/htapod"
)

// relayProcs is how many Ps htapod's goroutines get while the command
// runs: half the CPUs Go would use (at least one), unless GOMAXPROCS is
// set in the environment (0: Go's own choice).
//
// The command and its peers run on the same machine, and each request
// through htapod is handed from goroutine to goroutine: the TUN's reader,
// gVisor's TCP processor, the relay, the dissector. With a P for every
// CPU each hand-off can wake another thread on another core, where the
// command or its server was running; on fewer Ps the hand-offs stay on a
// thread that is already awake. On 2 cores one P took the p50 of one
// connection from about 210 to 160 µs, and TCP downloads from about 4.7
// to 5.6–6.6 Gbit/s (docs/performance.md, the sixth pass). htapod's
// start and end are left with every P: they are a series of blocking
// system calls, each of which holds a lone P until the runtime takes it
// back (10 ms more to start, when the whole run had one).
func relayProcs() int {
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		return 0
	}
	return max(1, runtime.GOMAXPROCS(0)/2)
}

// withRelayProcs is the option that applies relayProcs.
func withRelayProcs() htapod.Option { return htapod.WithGOMAXPROCS(relayProcs()) }
