// Package testnet holds the socket helpers that tests share: a server
// loop that cleans up after itself, a UDP echo, a connected UDP pair. It
// is imported by tests and by internal/lab only.
package testnet

import (
	"errors"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// ServeConns runs handle on a goroutine of its own for every connection
// accepted on ln, and closes the connection when handle returns. When the
// test ends it closes ln and every open connection and waits for the
// handlers.
func ServeConns(tb testing.TB, ln net.Listener, handle func(net.Conn)) {
	tb.Helper()
	var (
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Go(func() {
				defer func() {
					c.Close()
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
				}()
				handle(c)
			})
		}
	})
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

// ServeUDPEcho sends every datagram pc receives back to its sender,
// unchanged, until the test ends; then it closes pc. Read errors other
// than the close (an ICMP error reported on the socket) are skipped.
func ServeUDPEcho(tb testing.TB, pc net.PacketConn) {
	tb.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			n, from, err := pc.ReadFrom(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err == nil {
				pc.WriteTo(buf[:n], from)
			}
		}
	}()
	tb.Cleanup(func() {
		pc.Close()
		<-done
	})
}

// UDPPair returns two loopback UDP sockets connected to each other: each
// reads only the other's datagrams and writes without an address. Both
// are closed when the test ends.
func UDPPair(tb testing.TB) (a, b *net.UDPConn) {
	tb.Helper()
	var fds [2]int
	var addrs [2]unix.Sockaddr
	for i := range fds {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			tb.Fatalf("socket: %v", err)
		}
		fds[i] = fd
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			tb.Fatalf("bind: %v", err)
		}
		if addrs[i], err = unix.Getsockname(fd); err != nil {
			tb.Fatalf("getsockname: %v", err)
		}
	}
	conns := make([]*net.UDPConn, 2)
	for i, fd := range fds {
		if err := unix.Connect(fd, addrs[1-i]); err != nil {
			tb.Fatalf("connect: %v", err)
		}
		f := os.NewFile(uintptr(fd), "udp")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			tb.Fatalf("file conn: %v", err)
		}
		conns[i] = c.(*net.UDPConn)
	}
	tb.Cleanup(func() { conns[0].Close(); conns[1].Close() })
	return conns[0], conns[1]
}

// HeapInUse is the heap in use by live objects after collections that
// free what pools and finalizers let go: tests that bound what idle flows
// keep compare it before and after.
func HeapInUse() uint64 {
	var ms runtime.MemStats
	for range 3 {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
