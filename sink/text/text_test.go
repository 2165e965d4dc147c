package text

import (
	"bytes"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/htapod/htapod/event"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// flow is a finished flow that lasted d.
func flow(proto event.Proto, dst, upstream, name string, up, down int64, d time.Duration, end event.End, err string) *event.Flow {
	f := &event.Flow{ID: 1, Proto: proto, Src: netip.MustParseAddrPort("10.0.85.2:40000"),
		Dst: netip.MustParseAddrPort(dst), Name: name, Up: up, Down: down,
		Start: t0, Ended: t0.Add(d), End: end, Err: err}
	if upstream != "" {
		f.Upstream = netip.MustParseAddrPort(upstream)
	}
	return f
}

func TestFormat(t *testing.T) {
	tests := []struct {
		name string
		in   event.Event
		want string
	}{
		// Flows: proto, destination padded to 21, name, via, sizes,
		// duration, error (unless refused or closed), how it ended.
		{"tcp with name", flow(event.TCP, "203.0.113.10:443", "203.0.113.10:443", "www.lab.test", 615, 12_400, 38*time.Millisecond, event.Closed, ""),
			"tcp  203.0.113.10:443       www.lab.test  ↑615 B  ↓12.4 KB  38 ms  closed"},
		{"tcp via upstream, refused error hidden", flow(event.TCP, "10.10.10.10:8080", "127.0.0.1:8080", "", 0, 0, 400*time.Microsecond, event.Refused, "connection refused"),
			"tcp  10.10.10.10:8080       via 127.0.0.1:8080  ↑0 B  ↓0 B  0.4 ms  refused"},
		{"tcp with name and via", flow(event.TCP, "203.0.113.10:80", "127.0.0.1:8080", "www.lab.test", 1, 2, time.Second, event.Closed, ""),
			"tcp  203.0.113.10:80        www.lab.test  via 127.0.0.1:8080  ↑1 B  ↓2 B  1.0 s  closed"},
		{"udp idle", flow(event.UDP, "198.51.100.53:53", "198.51.100.53:53", "", 40, 120, 10*time.Second, event.Idle, ""),
			"udp  198.51.100.53:53       ↑40 B  ↓120 B  10.0 s  idle"},
		{"udp refused", flow(event.UDP, "198.51.100.9:9999", "198.51.100.9:9999", "", 12, 0, 60*time.Second, event.Refused, ""),
			"udp  198.51.100.9:9999      ↑12 B  ↓0 B  1m0s  refused"},
		{"ipv6 reset with error", flow(event.TCP, "[2001:db8::10]:443", "[2001:db8::10]:443", "v6.lab.test", 1_500_000, 3_100_000, 2100*time.Millisecond, event.Reset, "connection reset by peer"),
			"tcp  [2001:db8::10]:443     v6.lab.test  ↑1.5 MB  ↓3.1 MB  2.1 s  (connection reset by peer)  reset"},
		{"unreachable", flow(event.TCP, "192.0.2.1:80", "192.0.2.1:80", "", 0, 0, 50*time.Microsecond, event.Unreachable, "network is unreachable"),
			"tcp  192.0.2.1:80           ↑0 B  ↓0 B  50 µs  (network is unreachable)  unreachable"},
		{"timeout", flow(event.TCP, "192.0.2.1:80", "192.0.2.1:80", "", 0, 0, 75*time.Second, event.Timeout, "connection timed out"),
			"tcp  192.0.2.1:80           ↑0 B  ↓0 B  1m15s  (connection timed out)  timeout"},
		{"denied, no upstream", flow(event.TCP, "10.0.85.1:80", "", "", 0, 0, 0, event.Denied, ""),
			"tcp  10.0.85.1:80           ↑0 B  ↓0 B  0 µs  denied"},
		{"aborted", flow(event.TCP, "203.0.113.10:443", "203.0.113.10:443", "www.lab.test", 2_000_000_000, 999, time.Hour, event.Aborted, ""),
			"tcp  203.0.113.10:443       www.lab.test  ↑2.00 GB  ↓999 B  1h0m0s  aborted"},
		{"failed with error", flow(event.TCP, "203.0.113.10:443", "203.0.113.10:443", "", 0, 0, time.Millisecond, event.Failed, "upstream conn cannot half-close"),
			"tcp  203.0.113.10:443       ↑0 B  ↓0 B  1 ms  (upstream conn cannot half-close)  failed"},
		{"closed error hidden", flow(event.TCP, "203.0.113.10:443", "203.0.113.10:443", "", 5, 5, time.Millisecond, event.Closed, "use of closed network connection"),
			"tcp  203.0.113.10:443       ↑5 B  ↓5 B  1 ms  closed"},
		{"destination wider than its column", flow(event.TCP, "[2001:db8:1234:5678::abcd]:65535", "[2001:db8:1234:5678::abcd]:65535", "", 0, 0, 0, event.Closed, ""),
			"tcp  [2001:db8:1234:5678::abcd]:65535  ↑0 B  ↓0 B  0 µs  closed"},

		// DNS: name, type → answers or rcode, duration, error.
		{"dns answers", &event.DNS{Name: "www.lab.test", Type: "A", Rcode: "NOERROR", Answers: []string{"203.0.113.10", "203.0.113.11"}, Duration: 1200 * time.Microsecond},
			"dns  www.lab.test A → 203.0.113.10, 203.0.113.11  1 ms"},
		{"dns cname", &event.DNS{Name: "alias.lab.test", Type: "A", Rcode: "NOERROR", Answers: []string{"www.lab.test.", "203.0.113.10"}, Duration: 3 * time.Millisecond},
			"dns  alias.lab.test A → www.lab.test, 203.0.113.10  3 ms"},
		{"dns nxdomain", &event.DNS{Name: "nx.lab.test", Type: "AAAA", Rcode: "NXDOMAIN", Duration: 3 * time.Millisecond},
			"dns  nx.lab.test AAAA → NXDOMAIN  3 ms"},
		{"dns no records", &event.DNS{Name: "www.lab.test", Type: "MX", Rcode: "NOERROR", Duration: 300 * time.Microsecond},
			"dns  www.lab.test MX → (no records)  0.3 ms"},
		{"dns truncated", &event.DNS{Name: "big.lab.test", Type: "TXT", Rcode: "NOERROR", Truncated: true, Duration: 2 * time.Millisecond},
			"dns  big.lab.test TXT → (no records)  2 ms  (truncated: retry over TCP)"},
		{"dns seen on a flow names its server", &event.DNS{FlowID: 7, Server: netip.MustParseAddrPort("192.0.2.53:53"), Name: "www.lab.test", Type: "A", Rcode: "NOERROR", Answers: []string{"203.0.113.10"}, Duration: 4 * time.Millisecond},
			"dns  www.lab.test A → 203.0.113.10  4 ms  @192.0.2.53"},
		{"dns of htapod's resolver does not", &event.DNS{Server: netip.MustParseAddrPort("10.0.85.1:53"), Name: "www.lab.test", Type: "A", Rcode: "NOERROR", Answers: []string{"203.0.113.10"}, Duration: 4 * time.Millisecond},
			"dns  www.lab.test A → 203.0.113.10  4 ms"},
		{"dns servfail with error", &event.DNS{Name: "www.lab.test", Type: "A", Rcode: "SERVFAIL", Duration: 2 * time.Second, Err: "192.0.2.53:53: i/o timeout"},
			"dns  www.lab.test A → SERVFAIL  2.0 s  (192.0.2.53:53: i/o timeout)"},

		{"notice", &event.Notice{Time: t0, Level: "warn", Message: "UDP flow table full"},
			"htapod  warn: UDP flow table full"},
		{"unknown event", unknownEvent{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Format(tt.in); got != tt.want {
				t.Errorf("Format(%s) =\n\t%q\nwant\n\t%q", tt.name, got, tt.want)
			}
		})
	}
}

type unknownEvent struct{}

func (unknownEvent) Kind() string     { return "unknown" }
func (unknownEvent) Flow() uint64     { return 0 }
func (unknownEvent) At() time.Time    { return time.Time{} }
func (unknownEvent) Net() event.Proto { return "" }

func TestSize(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0 B"},
		{615, "615 B"},
		{999, "999 B"},
		{1000, "1.0 KB"},
		{12_400, "12.4 KB"},
		{999_949, "999.9 KB"},
		{1_000_000, "1.0 MB"},
		{3_100_000, "3.1 MB"},
		{999_949_999, "999.9 MB"},
		{1_000_000_000, "1.00 GB"},
		{1_234_567_890, "1.23 GB"},
		{5_000_000_000_000, "5000.00 GB"},
	}
	for _, tt := range tests {
		if got := Size(tt.in); got != tt.want {
			t.Errorf("Size(%d) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0 µs"},
		{42 * time.Microsecond, "42 µs"},
		{99_999 * time.Nanosecond, "99 µs"},
		{100 * time.Microsecond, "0.1 ms"},
		{400 * time.Microsecond, "0.4 ms"},
		{time.Millisecond, "1 ms"},
		{38 * time.Millisecond, "38 ms"},
		{999_999 * time.Microsecond, "999 ms"},
		{time.Second, "1.0 s"},
		{2100 * time.Millisecond, "2.1 s"},
		{59_900 * time.Millisecond, "59.9 s"},
		{time.Minute, "1m0s"},
		{90_400 * time.Millisecond, "1m30s"},
		{time.Hour + 500*time.Millisecond, "1h0m1s"},
	}
	for _, tt := range tests {
		if got := Duration(tt.in); got != tt.want {
			t.Errorf("Duration(%v) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// writeRecorder keeps each Write call separately.
type writeRecorder struct {
	mu     sync.Mutex
	writes []string
}

func (w *writeRecorder) Write(b []byte) (int, error) {
	w.mu.Lock()
	w.writes = append(w.writes, string(b))
	w.mu.Unlock()
	return len(b), nil
}

func TestSinkHandle(t *testing.T) {
	var buf bytes.Buffer
	s := New(&buf)
	s.Handle(&event.Notice{Level: "info", Message: "one"})
	s.Handle(unknownEvent{})
	s.Handle(&event.Notice{Level: "error", Message: "two"})
	if got, want := buf.String(), "htapod  info: one\nhtapod  error: two\n"; got != want {
		t.Errorf("Handle(notice, unknown, notice) wrote %q; want %q", got, want)
	}
}

func TestSinkHandleConcurrent(t *testing.T) {
	// Each event is one whole line in one Write, also when many goroutines
	// report at once.
	const goroutines, perGoroutine = 8, 50
	var w writeRecorder
	s := New(&w)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perGoroutine {
				s.Handle(flow(event.TCP, "203.0.113.10:443", "", "www.lab.test", int64(g), int64(i), time.Millisecond, event.Closed, ""))
			}
		}()
	}
	wg.Wait()
	if len(w.writes) != goroutines*perGoroutine {
		t.Fatalf("got %d writes; want %d", len(w.writes), goroutines*perGoroutine)
	}
	for _, line := range w.writes {
		if !strings.HasPrefix(line, "tcp  ") || !strings.HasSuffix(line, "  closed\n") || strings.Count(line, "\n") != 1 {
			t.Errorf("write %q is not one whole flow line", line)
		}
	}
}
