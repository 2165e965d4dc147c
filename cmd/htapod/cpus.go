package main

import (
	"os"
	"runtime"
)

// relayProcs is how many Ps htapod's goroutines get while the command
// runs and the load allows (htapod.WithGOMAXPROCS; internal/procs says
// why): half the CPUs Go would use, at least one. A GOMAXPROCS set in the
// environment is the user's choice: 0, left alone.
//
// htapod's start and end keep every P: they are a series of blocking
// system calls, each of which holds a lone P until the runtime takes it
// back (start-up took 10 ms longer when the whole run had one P).
func relayProcs() int {
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		return 0
	}
	return max(1, runtime.GOMAXPROCS(0)/2)
}
