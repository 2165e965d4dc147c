package netstack

import (
	"errors"
	"net/netip"
	"os"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
)

func TestUDPConnWaitReadable(t *testing.T) {
	// WaitReadable returns when Read would not block, reading nothing, and
	// at the deadline when nothing has come.
	tn := newTestNet(t)
	raddr, proto := fullAddr(netip.MustParseAddrPort("203.0.113.10:5353"))
	c, err := gonet.DialUDP(tn.client, nil, &raddr, proto)
	if err != nil {
		t.Fatalf("client DialUDP: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(testTimeout))
	send := func(msg string) {
		t.Helper()
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatalf("client Write: %v", err)
		}
	}
	send("first")
	req := tn.udpRequest(t)
	conn := req.Conn
	t.Cleanup(func() { conn.Close() })
	conn.SetReadDeadline(time.Now().Add(testTimeout))
	buf := make([]byte, 1500)
	expectRead := func(want string) {
		t.Helper()
		if n, err := conn.Read(buf); err != nil || string(buf[:n]) != want {
			t.Fatalf("Read = %q, %v; want %q", buf[:n], err, want)
		}
	}

	if err := conn.WaitReadable(time.Now().Add(testTimeout)); err != nil {
		t.Fatalf("WaitReadable with a datagram waiting = %v; want nil", err)
	}
	expectRead("first") // WaitReadable took nothing

	began := time.Now()
	const wait = 100 * time.Millisecond
	if err := conn.WaitReadable(began.Add(wait)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("WaitReadable with nothing coming = %v; want os.ErrDeadlineExceeded", err)
	}
	if took := time.Since(began); took < wait || took > wait+testTimeout/2 {
		t.Errorf("WaitReadable returned after %v; want about %v", took, wait)
	}

	time.AfterFunc(50*time.Millisecond, func() { c.Write([]byte("later")) })
	if err := conn.WaitReadable(time.Now().Add(testTimeout)); err != nil {
		t.Fatalf("WaitReadable for a datagram on its way = %v; want nil", err)
	}
	expectRead("later")

	time.AfterFunc(50*time.Millisecond, func() { conn.Close() })
	began = time.Now()
	if err := conn.WaitReadable(time.Now().Add(testTimeout)); err != nil || time.Since(began) > testTimeout/2 {
		t.Errorf("WaitReadable across Close = %v after %v; want nil at the close", err, time.Since(began))
	}
	if _, err := conn.Read(buf); err == nil {
		t.Errorf("Read after Close = nil error; want one")
	}
}
