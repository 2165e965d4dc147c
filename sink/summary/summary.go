// Package summary collects a run's events into a table of the hosts the
// command contacted, printed when the run ends: name, addresses, ports,
// protocols, requests, bytes each way, TLS failures.
package summary

import (
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/sink"
	"github.com/htapod/htapod/sink/text"
)

// maxRows bounds the table's rows. A command that contacts more hosts (a
// crawler, a scanner, a soak of random names) has the rest counted
// together in one last row: a long run's memory must not grow with every
// new name, and a table of ten thousand rows is read by no one.
const maxRows = 10_000

// otherHosts names the row that counts the hosts beyond maxRows.
const otherHosts = "(other hosts)"

// maxSet bounds the addresses and ports one row lists; a row that saw
// more ends its list with "…".
const maxSet = 32

// set is a row's list of addresses, ports or protocols, at most maxSet.
type set[K comparable] struct {
	m    map[K]bool
	more bool // a key was left out
}

func (s *set[K]) add(k K) {
	if s.m[k] {
		return
	}
	if len(s.m) >= maxSet {
		s.more = true
		return
	}
	if s.m == nil {
		s.m = map[K]bool{}
	}
	s.m[k] = true
}

// host is one row: everything seen for one name (or bare address).
type host struct {
	name        string
	addrs       set[netip.Addr]
	ports       set[string] // "tcp/443"
	protos      set[string] // "https", "h2", "dns", "tcp"…
	flows       int
	requests    int
	up, down    int64
	tlsFailures int
}

// Summary collects events. It is safe for concurrent use.
type Summary struct {
	mu    sync.Mutex
	hosts map[string]*host
	flows int
	// rowOf maps open flows to their row, so that the flow's exchanges
	// count for the host the flow was counted for.
	rowOf map[uint64]string
	// all counts every flow and request of the run, before the filter,
	// once CountAll's handler was installed; nil: no filter.
	all *counts
}

// counts are the flows and HTTP requests of a whole run.
type counts struct{ flows, requests int }

// New returns an empty Summary.
func New() *Summary { return &Summary{hosts: map[string]*host{}, rowOf: map[uint64]string{}} }

var _ sink.Sink = (*Summary)(nil)

// Flush does nothing: the table is written by Write, at the end.
func (s *Summary) Flush() error { return nil }

// Close does nothing: the table is written by Write, when the caller
// decides to show it.
func (s *Summary) Close() error { return nil }

// Flows is how many flows ended so far.
func (s *Summary) Flows() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flows
}

// CountAll returns an event handler that counts every flow and request
// of the run, the filter's choice or not (for htapod.WithEventHandler),
// and makes the table say what the filter kept of them: "(filtered: 3 of
// 12 flows, 5 of 40 requests)". The table itself counts what the Summary
// was handed, which a run with a filter selects.
func (s *Summary) CountAll() event.Handler {
	s.mu.Lock()
	s.all = &counts{}
	s.mu.Unlock()
	return func(e event.Event) {
		switch e := e.(type) {
		case *event.Flow:
			s.mu.Lock()
			s.all.flows++
			s.mu.Unlock()
		case *event.HTTP:
			if e.Phase == event.PhaseDone {
				s.mu.Lock()
				s.all.requests++
				s.mu.Unlock()
			}
		}
	}
}

// row returns name's row, made on first use, or the row of the other
// hosts once the table is full.
func (s *Summary) row(name string) *host {
	h := s.hosts[name]
	if h == nil {
		if len(s.hosts) >= maxRows {
			name = otherHosts
			if h = s.hosts[name]; h != nil {
				return h
			}
		}
		h = &host{name: name}
		s.hosts[name] = h
	}
	return h
}

// Handle takes one event.
func (s *Summary) Handle(e event.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch e := e.(type) {
	case *event.FlowOpen:
		name := e.Name
		if name == "" {
			name = e.Dst.Addr().String()
		}
		s.rowOf[e.ID] = name
	case *event.Flow:
		s.flows++
		name := e.Name
		if name == "" {
			name = e.Dst.Addr().String()
		}
		delete(s.rowOf, e.ID)
		h := s.row(name)
		h.flows++
		h.addrs.add(e.Dst.Addr())
		h.ports.add(fmt.Sprintf("%s/%d", e.Proto, e.Dst.Port()))
		h.protos.add(string(e.Proto))
		h.up += e.Up
		h.down += e.Down
	case *event.HTTP:
		if e.Phase != event.PhaseDone {
			return
		}
		name, ok := s.rowOf[e.FlowID]
		if !ok {
			name, _, _ = strings.Cut(e.Authority, ":")
			if name == "" {
				name = e.Server.Addr().String()
			}
			name = strings.Trim(name, "[]")
		}
		h := s.row(name)
		h.requests++
		h.protos.add(text.ProtoName(e.Proto))
	case *event.DNS:
		if e.Name != "" {
			s.row(e.Name).protos.add("dns")
		}
	case *event.TLS:
		name := e.SNI
		if name == "" {
			name = e.Server.Addr().String()
		}
		h := s.row(name)
		if e.Err != "" {
			h.tlsFailures++
		} else {
			h.protos.add("tls")
		}
	}
}

// Write prints the table to w. Hosts only looked up (DNS, no flow) are
// listed too: a lookup is contact as well.
func (s *Summary) Write(w io.Writer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rows := make([]*host, 0, len(s.hosts))
	for name, h := range s.hosts {
		if name != otherHosts {
			rows = append(rows, h)
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].up+rows[i].down != rows[j].up+rows[j].down {
			return rows[i].up+rows[i].down > rows[j].up+rows[j].down
		}
		return rows[i].name < rows[j].name
	})
	hosts := fmt.Sprint(len(rows), " hosts")
	if other := s.hosts[otherHosts]; other != nil {
		rows = append(rows, other)
		hosts = fmt.Sprintf("%d hosts and more, counted together in the last row", len(rows)-1)
	}
	table := [][]string{{"HOST", "ADDRESSES", "PORTS", "PROTOCOLS", "FLOWS", "REQS", "↑", "↓", "TLS FAIL"}}
	for _, h := range rows {
		table = append(table, []string{h.name, joinAddrs(h.addrs), joinKeys(h.ports), joinKeys(h.protos),
			fmt.Sprint(h.flows), fmt.Sprint(h.requests), text.Size(h.up), text.Size(h.down), fmt.Sprint(h.tlsFailures)})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "htapod summary: %d flows, %s%s\n", s.flows, hosts, s.filtered(rows))
	widths := make([]int, len(table[0]))
	for _, r := range table {
		for i, c := range r {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	for _, r := range table {
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-len([]rune(c))+2))
			}
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// filtered is the title's note of what a filter kept, or "". s.mu is
// held.
func (s *Summary) filtered(rows []*host) string {
	if s.all == nil {
		return ""
	}
	requests := 0
	for _, h := range rows {
		requests += h.requests
	}
	return fmt.Sprintf(" (filtered: %d of %d flows, %d of %d requests)", s.flows, s.all.flows, requests, s.all.requests)
}

// list is s's keys, sorted by cmp and written by str, then "…" when some
// were left out.
func list[K comparable](s set[K], cmp func(a, b K) int, str func(K) string) []string {
	keys := slices.SortedFunc(maps.Keys(s.m), cmp)
	out := make([]string, len(keys), len(keys)+1)
	for i, k := range keys {
		out[i] = str(k)
	}
	if s.more {
		out = append(out, "…")
	}
	return out
}

func joinKeys(k set[string]) string {
	return strings.Join(list(k, strings.Compare, func(s string) string { return s }), ",")
}

func joinAddrs(a set[netip.Addr]) string {
	if s := list(a, netip.Addr.Compare, netip.Addr.String); len(s) > 0 {
		return strings.Join(s, ",")
	}
	return "-"
}
