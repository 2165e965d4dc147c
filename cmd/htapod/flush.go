package main

import (
	"os"
	"os/signal"
	"syscall"
	"time"
)

// harFlushEvery bounds what a killed htapod loses from its HAR file.
const harFlushEvery = 2 * time.Second

// flushEvery calls flush on a timer and when htapod is asked to stop
// (SIGINT, SIGTERM, SIGHUP — which the box also forwards to the command),
// so that the file on disk is complete and valid up to then even if
// htapod is killed afterwards. The returned func stops it.
func flushEvery(flush func() error) (stop func()) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(harFlushEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				flush()
			case <-sigs:
				flush()
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}
