// Package jsonl writes events as JSON Lines: one JSON object per event, one
// object a line, in the schema that docs/json.md describes. Every object
// has "v" (the schema version, 1), "type" (the event's Kind), "time" and,
// for events that belong to a flow, "flow"; the other fields depend on the
// type.
//
// The schema is stable: version 1 only ever gains fields. A change that
// renames or removes a field, or changes what one means, bumps "v".
package jsonl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/sink"
)

// Version is the schema version written as "v" in every object.
const Version = 1

// TimeFormat is how times are written: RFC 3339 in UTC with all nine
// digits of nanoseconds, so that times sort as strings.
const TimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// Sink writes one line per event to an io.Writer. Each line goes out in a
// single Write, so that lines from concurrent Handle calls never mix and a
// run that is killed leaves whole lines (but for the last Write, which the
// kernel may have cut). It is safe for concurrent use. It is a sink.Sink:
// a buffered writer (a *bufio.Writer) is flushed by Flush and Close, which
// a run calls on its clock and at its end.
type Sink struct {
	// now stamps events that carry no time of their own (types this
	// package does not know).
	now func() time.Time

	mu     sync.Mutex
	w      io.Writer
	err    error // first write error
	closed bool
}

// flusher is a buffered writer (a *bufio.Writer), flushed by Flush.
type flusher interface {
	Flush() error
}

var _ sink.Sink = (*Sink)(nil)

// New returns a Sink that writes to w. The Sink does not own w: Close does
// not close it.
func New(w io.Writer) *Sink {
	return &Sink{w: w, now: time.Now}
}

// Handle writes e as one line. It never blocks for longer than the Write.
// Events after Close, and events after a write failed, are dropped; the
// error is reported by Close.
func (s *Sink) Handle(e event.Event) {
	line, err := Marshal(e, s.now)
	if err != nil {
		return // a nil event: nothing to say
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.err != nil {
		return
	}
	if _, err := s.w.Write(line); err != nil {
		s.err = fmt.Errorf("write event: %w", err)
	}
}

// Flush flushes the writer when it is buffered, and returns the first
// error of a write, if any.
func (s *Sink) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flush()
}

func (s *Sink) flush() error {
	if f, ok := s.w.(flusher); ok && s.err == nil && !s.closed {
		if err := f.Flush(); err != nil {
			s.err = fmt.Errorf("flush events: %w", err)
		}
	}
	return s.err
}

// Close flushes and stops the sink: later events are dropped. It returns
// the first error of a write, if any. Close may be called more than once.
// It does not close the writer.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.flush()
	s.closed = true
	return err
}

// Marshal returns the JSON line for e, newline included. now stamps events
// without a time of their own (types this package does not know, written
// with "v", "type" and "time" only, and events whose time is unset); nil
// means time.Now.
func Marshal(e event.Event, now func() time.Time) ([]byte, error) {
	if e == nil {
		return nil, errors.New("marshal event: nil event")
	}
	if now == nil {
		now = time.Now
	}
	t := e.At()
	if t.IsZero() {
		t = now()
	}
	h := header{V: Version, Type: e.Kind(), Time: t.UTC().Format(TimeFormat), Flow: e.Flow()}
	var v any = h
	switch e := e.(type) {
	case *event.Flow:
		v = flowJSON(h, e)
	case *event.FlowOpen:
		v = flowOpenObject{header: h, Proto: e.Proto, Src: addr(e.Src), Dst: addr(e.Dst),
			Upstream: addr(e.Upstream), Name: e.Name, Process: processJSON(e.Process)}
	case *event.DNS:
		v = dnsJSON(h, e)
	case *event.HTTP:
		v = httpJSON(h, e)
	case *event.WebSocket:
		v = websocketJSON(h, e)
	case *event.TLS:
		v = tlsJSON(h, e)
	case *event.Unparsed:
		v = unparsedJSON(h, e)
	case *event.Notice:
		v = noticeJSON(h, e)
	case *event.Policy:
		v = policyJSON(h, e)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	// Bodies and URLs are read by people: keep <, > and & as they are.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // Encode ends the line
		return nil, err
	}
	return b.Bytes(), nil
}

// header is the start of every object.
type header struct {
	V    int    `json:"v"`
	Type string `json:"type"`
	Time string `json:"time"`
	// Flow is the flow ID, omitted for events outside flows.
	Flow uint64 `json:"flow,omitempty"`
}

// stamp formats t in TimeFormat; "" (and so an omitted field where the
// field is omitempty) for the zero time.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeFormat)
}

// millis is a duration in milliseconds, to the microsecond.
func millis(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
