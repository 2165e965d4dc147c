package relay

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/htapod/htapod/event"
)

// a TCP flow that is still dialing when Close is called is reported
// as "failed (operation was canceled)", not "aborted" as Close documents.
// The fake dial behaves as net.Dialer does: it returns when ctx is done.
func TestCloseDuringDialIsAborted(t *testing.T) {
	dialing := make(chan struct{})
	f, rec := newTestForwarder(t, Config{
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			close(dialing)
			<-ctx.Done()
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: ctx.Err()}
		},
	})
	in := newTestInbound(t)
	done := start(func() { f.HandleTCP(testSrc, testDst, in) })
	<-dialing
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	f.Close(ctx)
	await(t, done, "HandleTCP")
	if fl := rec.flow(t); fl.End != event.Aborted {
		t.Errorf("flow cut by Close while dialing: End, Err = %q, %q; want %q", fl.End, fl.Err, event.Aborted)
	}
}

// a dial that completes while Close runs (after Close took its
// snapshot of end functions, which still held the no-op "dialing" end)
// leaves a live flow: Close waits until its context ends, and the flow
// is never aborted.
func TestDialCompletingDuringCloseIsAborted(t *testing.T) {
	echo := newTCPEcho(t)
	dialing := make(chan struct{})
	f, rec := newTestForwarder(t, Config{
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			close(dialing)
			<-ctx.Done()                       // Close has begun...
			time.Sleep(100 * time.Millisecond) // ...and the connect completes just then.
			var d net.Dialer
			return d.DialContext(context.Background(), network, echo.String())
		},
	})
	in := newTestInbound(t)
	done := start(func() { f.HandleTCP(testSrc, testDst, in) })
	<-dialing
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	f.Close(ctx)
	if ctx.Err() != nil {
		t.Errorf("Close waited until its context ended (2s): the flow was not cut")
	}
	select {
	case <-done:
		if fl := rec.flow(t); fl.End != event.Aborted {
			t.Errorf("flow End = %q; want %q", fl.End, event.Aborted)
		}
	case <-time.After(time.Second):
		t.Errorf("HandleTCP still relaying after Close returned")
		in.client.Close() // let the test end
	}
}
