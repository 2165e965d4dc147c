package relay

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/route"
)

// udpHostBuffer is the receive buffer asked for each host-side UDP socket.
const udpHostBuffer = 4 << 20

// HandleUDP relays one UDP flow: the datagrams between src and dst, over a
// host socket of its own (a NAT entry), until the flow has been idle for the
// idle timeout or the forwarder closes. inner is the command's side; the
// handler owns it and closes it.
func (f *Forwarder) HandleUDP(src, dst netip.AddrPort, inner net.Conn) {
	fl, d, ok := f.decide(event.UDP, src, dst, func() { f.refuseUDP(src, dst); inner.Close() }, func(fl *event.Flow, svc Service) {
		untrack := f.track(fl.ID, event.UDP, func() { inner.Close() })
		defer untrack()
		svc.ServeUDP(f.ctx, inner)
	})
	if !ok {
		return
	}
	if !f.admitUDP() {
		inner.Close()
		return
	}
	defer f.releaseUDP()
	fl.Upstream = d.Dst
	up, err := f.cfg.Dial(f.ctx, "udp", d.Dst.String())
	if err != nil {
		inner.Close()
		f.finish(fl, dialEnd(err), err)
		return
	}
	if uc, ok := up.(*net.UDPConn); ok {
		// Answers to a burst wait here while the relay writes inward; the
		// kernel caps this at net.core.rmem_max.
		uc.SetReadBuffer(udpHostBuffer)
	}
	f.cfg.Events(&event.FlowOpen{ID: fl.ID, Proto: event.UDP, Src: src, Dst: dst, Upstream: fl.Upstream, Name: fl.Name, Time: time.Now(), Process: fl.Process})
	idle := f.cfg.UDPIdle
	if dst.Port() == 53 {
		idle = f.cfg.DNSIdle
	}
	var closing atomic.Bool
	untrack := f.track(fl.ID, event.UDP, func() { closing.Store(true); inner.Close(); up.Close() })
	defer untrack()
	var feeders feeders
	if d.Action != route.Passthrough {
		meta := dissect.Meta{FlowID: fl.ID, Proto: event.UDP, Src: src, Dst: dst, Name: fl.Name, Start: fl.Start}
		if f.cfg.DissectUDP != nil {
			if dg, name := f.cfg.DissectUDP(meta, dissect.Emit(stamped(f.cfg.Events, fl.Process))); dg != nil {
				feeders = append(feeders, newFeeder(fl.ID, name, nil, dg, f.cfg.Events))
			}
		}
		for _, sniff := range f.cfg.SniffersUDP {
			if dg := sniff(meta); dg != nil {
				feeders = append(feeders, newFeeder(fl.ID, "sniffer", nil, dg, f.cfg.Events))
			}
		}
	}
	end := f.pumpUDP(fl, inner, up, idle, feeders.tee())
	feeders.close()
	if closing.Load() {
		end = event.Closed
	}
	f.finish(fl, end, nil)
}

// pumpUDP copies datagrams both ways until neither side has sent anything
// for idle. It returns how the flow ended.
func (f *Forwarder) pumpUDP(fl *event.Flow, inner, up net.Conn, idle time.Duration, tee Tee) event.End {
	var (
		last    atomic.Int64 // unix nanos of the last datagram either way
		refused atomic.Bool
		wg      sync.WaitGroup
		once    sync.Once
	)
	last.Store(time.Now().UnixNano())
	stop := func() { once.Do(func() { inner.Close(); up.Close() }) }
	pump := func(dst, src net.Conn, dir Direction, bytes, packets *int64) {
		defer wg.Done()
		defer stop()
		read := newDatagramReader(src)
		for {
			buf, n, err := read(time.Unix(0, last.Load()).Add(idle))
			if err != nil {
				if errors.Is(err, syscall.ECONNREFUSED) {
					// An ICMP port unreachable from upstream: the host
					// socket reports it on the next read. Keep the flow;
					// the command may retry.
					refused.Store(true)
					continue
				}
				if errors.Is(err, os.ErrDeadlineExceeded) &&
					time.Since(time.Unix(0, last.Load())) < idle {
					continue // the other direction was active
				}
				return
			}
			last.Store(time.Now().UnixNano())
			b := (*buf)[:n]
			if tee != nil {
				tee(dir, b)
			}
			atomic.AddInt64(bytes, int64(n))
			atomic.AddInt64(packets, 1)
			dst.Write(b)
			datagramBufs.Put(buf)
		}
	}
	wg.Add(2)
	go pump(up, inner, Up, &fl.Up, &fl.PacketsUp)
	go pump(inner, up, Down, &fl.Down, &fl.PacketsDown)
	wg.Wait()
	if refused.Load() && atomic.LoadInt64(&fl.PacketsDown) == 0 {
		return event.Refused
	}
	return event.Idle
}

func (f *Forwarder) admitUDP() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.udpOpen >= f.cfg.MaxUDPFlows {
		if !f.udpFull {
			f.udpFull = true
			f.cfg.Events(&event.Notice{Time: time.Now(), Level: "warn",
				Message: "UDP flow table full: datagrams of new flows are dropped until old flows expire"})
		}
		return false
	}
	f.udpOpen++
	return true
}

func (f *Forwarder) releaseUDP() {
	f.mu.Lock()
	f.udpOpen--
	f.mu.Unlock()
}
