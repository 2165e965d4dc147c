package relay

import (
	"crypto/tls"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/route"
)

// TestHandleTCPDeniedSNI: a router that denies at the ClientHello fails
// the command's handshake with an access_denied alert, and nothing of the
// hello goes upstream; the router saw the flow's process both times.
func TestHandleTCPDeniedSNI(t *testing.T) {
	proc := &event.Process{PID: 42, Exe: "/usr/bin/curl"}
	echo := newTCPEcho(t)
	var mu sync.Mutex
	var seen []route.Flow
	router := route.Func(func(fl route.Flow) route.Decision {
		mu.Lock()
		seen = append(seen, fl)
		mu.Unlock()
		if fl.SNI == "evil.lab.test" {
			return route.Decision{Action: route.Deny}
		}
		return route.Decision{Action: route.ForwardWithTLS, Dst: netip.MustParseAddrPort(echo.String())}
	})
	f, rec := newTestForwarder(t, Config{Router: router,
		Process: func(event.Proto, netip.AddrPort, netip.AddrPort) *event.Process { return proc }})
	in := newTestInbound(t)
	done := start(func() { f.HandleTCP(testSrc, testDst, in) })
	err := tls.Client(in.client, &tls.Config{ServerName: "evil.lab.test"}).Handshake()
	if err == nil || !strings.Contains(err.Error(), "access denied") {
		t.Errorf("handshake error = %v; want an access denied alert", err)
	}
	await(t, done, "HandleTCP")
	fl := rec.flow(t)
	if fl.End != event.Denied || fl.Up != 0 || fl.Process != proc {
		t.Errorf("flow End, Up, Process = %q, %d, %v; want %q, nothing sent upstream, the process", fl.End, fl.Up, fl.Process, event.Denied)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0].SNI != "" || seen[1].SNI != "evil.lab.test" || seen[1].Process != proc || seen[1].ID != fl.ID {
		t.Errorf("router saw %+v; want the connect, then the ClientHello with the SNI, process and id", seen)
	}
}

// TestHandleUDPDenyRefuses: a denied UDP flow is answered as a firewall's
// reject, through RefuseUDP.
func TestHandleUDPDenyRefuses(t *testing.T) {
	var refused []netip.AddrPort
	f, _ := newTestForwarder(t, Config{
		Router:    route.Func(func(route.Flow) route.Decision { return route.Decision{Action: route.Deny} }),
		Dial:      failDial(errors.New("a denied flow must not be dialed")),
		RefuseUDP: func(src, dst netip.AddrPort) { refused = append(refused, src, dst) },
	})
	u := startUDPFlow(t, f, testDst, "x")
	await(t, u.done, "HandleUDP")
	if len(refused) != 2 || refused[1] != testDst {
		t.Errorf("RefuseUDP calls %v; want one for %v", refused, testDst)
	}
}
