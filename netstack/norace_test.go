//go:build !race

package netstack

// raceEnabled says whether the tests run under the race detector.
const raceEnabled = false
