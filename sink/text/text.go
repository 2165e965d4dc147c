// Package text renders events as short human lines, one line per event,
// each written with a single Write so that it never lands in the middle of
// a line that another writer (the command, on the same terminal) wrote
// whole.
package text

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/filter"
	"github.com/htapod/htapod/sink"
)

// Options say how much the sink shows.
type Options struct {
	// Verbose adds a line for every flow (also those whose exchanges were
	// shown) and the TLS details of intercepted flows.
	Verbose bool
	// Headers adds the headers of HTTP messages.
	Headers bool
	// Bodies adds decoded bodies (JSON pretty-printed, binary as its size
	// and type, long ones cut) and WebSocket text.
	Bodies bool
	// Color marks up lines with ANSI colours (for terminals).
	Color bool
	// Highlight, when set and Color is on, marks the returned byte ranges
	// of URLs, header lines and body lines (a --grep's matches).
	Highlight func(string) []filter.Span
}

// Sink writes event lines to W. It is safe for concurrent use. It is a
// sink.Sink: Flush flushes W when W has a Flush method (a *bufio.Writer),
// and Close returns the first write error.
type Sink struct {
	opts Options
	mu   sync.Mutex
	w    io.Writer
	err  error // first write error
	// shown holds flows whose content (HTTP, WebSocket, DNS) had lines of
	// its own: their flow line is only shown when Verbose.
	shown map[uint64]bool
}

var _ sink.Sink = (*Sink)(nil)

// New returns a Sink that writes to w with default options.
func New(w io.Writer) *Sink { return NewWithOptions(w, Options{}) }

// NewWithOptions returns a Sink that writes to w.
func NewWithOptions(w io.Writer, opts Options) *Sink {
	return &Sink{w: w, opts: opts, shown: map[uint64]bool{}}
}

// Handle renders one event. Events it does not know are skipped.
func (s *Sink) Handle(e event.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	text := s.render(e)
	if text == "" || s.err != nil {
		return
	}
	if _, err := io.WriteString(s.w, text); err != nil {
		s.err = fmt.Errorf("write report: %w", err)
	}
}

// Flush flushes W when it has a Flush method, and returns the first
// error the report had.
func (s *Sink) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.w.(interface{ Flush() error }); ok && s.err == nil {
		if err := f.Flush(); err != nil {
			s.err = fmt.Errorf("write report: %w", err)
		}
	}
	return s.err
}

// Close flushes W and returns the first error the report had. It does
// not close W.
func (s *Sink) Close() error { return s.Flush() }

// render returns the lines for e, each ending in a newline, or "".
func (s *Sink) render(e event.Event) string {
	switch e := e.(type) {
	case *event.Flow:
		// A flow whose exchanges were shown gets no line of its own,
		// unless it ended abnormally or everything is asked for.
		normal := e.End == event.Closed || e.End == event.Idle
		hide := s.shown[e.ID] && normal && !s.opts.Verbose
		delete(s.shown, e.ID)
		if hide {
			return ""
		}
		if s.opts.Verbose && e.Process != nil {
			return s.paint(dim, formatFlowProcess(e)) + "\n"
		}
		return s.paint(dim, formatFlow(e)) + "\n"
	case *event.HTTP:
		s.shown[e.FlowID] = true
		return s.http(e)
	case *event.WebSocket:
		s.shown[e.FlowID] = true
		return s.websocket(e)
	case *event.DNS:
		if e.FlowID != 0 {
			s.shown[e.FlowID] = true
		}
		if s.opts.Verbose && e.Process != nil {
			return formatDNS(e) + "  " + processText(e.Process) + "\n"
		}
		return formatDNS(e) + "\n"
	case *event.TLS:
		return s.tls(e)
	case *event.Notice:
		if e.Level == "debug" && !s.opts.Verbose {
			return "" // details (the trust stores prepared): -v
		}
	case *event.Policy:
		return s.paint(red, formatPolicy(e)) + "\n"
	case *event.Unparsed:
		return s.paint(yellow, fmt.Sprintf("!    %s stopped following flow %d: %s", e.Dissector, e.FlowID, e.Reason)) + "\n"
	}
	if line := Format(e); line != "" {
		return line + "\n"
	}
	return ""
}

// Format renders one event as a line without the newline, or "" for events
// that have no line. Fields are separated by at least two spaces; the first
// is the kind (tcp, udp, dns, htapod) and, for flows, the last says how the
// flow ended.
func Format(e event.Event) string {
	switch e := e.(type) {
	case *event.Flow:
		return formatFlow(e)
	case *event.DNS:
		return formatDNS(e)
	case *event.Notice:
		return "htapod  " + e.Level + ": " + e.Message
	case *event.Policy:
		return formatPolicy(e)
	}
	return ""
}

func formatFlow(f *event.Flow) string {
	fields := []string{pad(string(f.Proto), 3), pad(f.Dst.String(), 21)}
	if f.Name != "" {
		fields = append(fields, f.Name)
	}
	if f.Upstream.IsValid() && f.Upstream != f.Dst {
		fields = append(fields, "via "+f.Upstream.String())
	}
	fields = append(fields, "↑"+Size(f.Up), "↓"+Size(f.Down), Duration(f.Duration()))
	end := string(f.End)
	if f.Err != "" && f.End != event.Refused && f.End != event.Closed {
		fields = append(fields, "("+f.Err+")")
	}
	fields = append(fields, end)
	return strings.Join(fields, "  ")
}

func formatDNS(d *event.DNS) string {
	answer := d.Rcode
	if d.Rcode == "NOERROR" {
		if len(d.Answers) == 0 {
			answer = "(no records)"
		} else {
			a := make([]string, len(d.Answers))
			for i, s := range d.Answers {
				a[i] = strings.TrimSuffix(s, ".")
			}
			answer = strings.Join(a, ", ")
		}
	}
	line := fmt.Sprintf("dns  %s %s → %s  %s", d.Name, d.Type, answer, Duration(d.Duration))
	if d.Truncated {
		line += "  (truncated: retry over TCP)"
	}
	if d.FlowID != 0 && d.Server.IsValid() {
		line += "  @" + d.Server.Addr().String()
	}
	if d.Err != "" {
		line += "  (" + d.Err + ")"
	}
	return line
}

func pad(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return s + strings.Repeat(" ", n-len(s))
}

// Size renders a byte count the way people read it: 615 B, 12.4 KB, 3.1 MB.
func Size(n int64) string {
	// Thresholds sit where the rounded figure would reach 1000.0. strconv,
	// not fmt: every exchange's line has a size and a duration.
	switch {
	case n < 1000:
		return strconv.FormatInt(n, 10) + " B"
	case n < 999_950:
		return strconv.FormatFloat(float64(n)/1000, 'f', 1, 64) + " KB"
	case n < 999_950_000:
		return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + " MB"
	}
	return strconv.FormatFloat(float64(n)/1e9, 'f', 2, 64) + " GB"
}

// Duration renders a duration with a precision that suits it: 42 µs,
// 0.4 ms, 38 ms, 2.1 s.
func Duration(d time.Duration) string {
	switch {
	case d < 100*time.Microsecond:
		return strconv.FormatInt(d.Microseconds(), 10) + " µs"
	case d < time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	case d < time.Minute-50*time.Millisecond:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	}
	return d.Round(time.Second).String()
}
