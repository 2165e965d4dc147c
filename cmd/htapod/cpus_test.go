package main

import (
	"os"
	"runtime"
	"testing"
)

// TestRelayProcs: the relay gets half the Ps Go would use, at least one,
// and a GOMAXPROCS in the environment is the user's choice.
func TestRelayProcs(t *testing.T) {
	t.Setenv("GOMAXPROCS", "3")
	if n := relayProcs(); n != 0 {
		t.Errorf("relayProcs() = %d with GOMAXPROCS set; want 0 (left alone)", n)
	}
	os.Unsetenv("GOMAXPROCS") // t.Setenv puts back what was there at the end
	for _, procs := range []int{1, 2, 3, 8} {
		prev := runtime.GOMAXPROCS(procs)
		got := relayProcs()
		runtime.GOMAXPROCS(prev)
		if want := max(1, procs/2); got != want {
			t.Errorf("relayProcs() = %d with %d Ps; want %d", got, procs, want)
		}
	}
}
