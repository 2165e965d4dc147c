package lab

import (
	"fmt"
	"io"
	"net"
	"runtime"

	"github.com/vishvananda/netns"
)

// Do runs fn on an OS thread that has entered the lab's network namespace.
// Sockets that fn creates belong to the lab for their whole life, whichever
// thread uses them later; that is how servers of the test process live in the
// lab. fn must not start goroutines that create sockets: they would run on
// other threads, in the host's namespace.
//
// Do runs fn on a fresh goroutine. If the thread cannot be switched back, it
// stays locked and Go discards it when that goroutine ends, so no other
// goroutine is ever scheduled in the lab by mistake.
func (l *Lab) Do(fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		host, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("get current netns: %w", err)
			return
		}
		defer host.Close()
		target, err := netns.GetFromName(l.name)
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("open netns %s: %w", l.name, err)
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("enter netns %s: %w", l.name, err)
			return
		}
		fnErr := fn()
		if err := netns.Set(host); err != nil {
			// Leave the thread locked: it dies with this goroutine.
			done <- fmt.Errorf("leave netns %s: %w", l.name, err)
			return
		}
		runtime.UnlockOSThread()
		done <- fnErr
	}()
	return <-done
}

// Listen announces on the lab's network, as net.Listen does on the host's,
// and closes the listener when the test ends. It fails the test on error.
// addr's IP must be one of the lab's (or 127.0.0.1, ::1, or empty).
func (l *Lab) Listen(network, addr string) net.Listener {
	l.tb.Helper()
	return listenIn(l, network, addr, net.Listen)
}

// ListenPacket is Listen for packet sockets, as net.ListenPacket.
func (l *Lab) ListenPacket(network, addr string) net.PacketConn {
	l.tb.Helper()
	return listenIn(l, network, addr, net.ListenPacket)
}

// listenIn calls listen inside the lab, fails the test on error and
// closes the socket when the test ends.
func listenIn[T io.Closer](l *Lab, network, addr string, listen func(network, addr string) (T, error)) T {
	l.tb.Helper()
	var s T
	err := l.Do(func() (err error) {
		s, err = listen(network, addr)
		return err
	})
	if err != nil {
		l.tb.Fatalf("lab: listen %s %s: %v", network, addr, err)
	}
	l.tb.Cleanup(func() { s.Close() })
	return s
}

// Dial connects from inside the lab, as net.Dial does from the host. The
// test owns the connection and must close it. It is for checking the lab's
// servers from the test process itself.
func (l *Lab) Dial(network, addr string) (net.Conn, error) {
	var c net.Conn
	err := l.Do(func() (err error) {
		c, err = net.Dial(network, addr)
		return err
	})
	return c, err
}
