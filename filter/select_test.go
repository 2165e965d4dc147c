package filter

import (
	"fmt"
	"strings"
	"testing"

	"github.com/htapod/htapod/event"
)

// exch is an HTTP event of flow 7, exchange seq, at phase, for path.
func exch(seq uint32, phase event.HTTPPhase, path string, status int) *event.HTTP {
	return &event.HTTP{FlowID: 7, Seq: seq, Phase: phase, Proto: "HTTP/1.1", Scheme: "https",
		Method: "GET", Authority: "www.lab.test", Path: path, Status: status}
}

// name names an event of the selector tests: "open", "req1", "resp1",
// "done1", "flow".
func name(e event.Event) string {
	switch e := e.(type) {
	case *event.FlowOpen:
		return "open"
	case *event.HTTP:
		return fmt.Sprintf("%s%d", map[event.HTTPPhase]string{event.PhaseRequest: "req", event.PhaseResponse: "resp", event.PhaseDone: "done"}[e.Phase], e.Seq)
	case *event.Flow:
		return "flow"
	case *event.Notice:
		return "notice"
	}
	return e.Kind()
}

// TestSelectorPerExchange: two exchanges on one connection are decided
// each by its own events; the flow's own events pass when one was kept.
func TestSelectorPerExchange(t *testing.T) {
	events := []event.Event{
		&event.FlowOpen{ID: 7, Proto: event.TCP},
		exch(1, event.PhaseRequest, "/new", 0),
		exch(1, event.PhaseResponse, "/new", 200),
		exch(1, event.PhaseDone, "/new", 200),
		exch(2, event.PhaseRequest, "/data.json", 0),
		&event.Notice{Level: "warn", Message: "m"},
		exch(2, event.PhaseResponse, "/data.json", 404),
		exch(2, event.PhaseDone, "/data.json", 404),
		&event.Flow{ID: 7, Proto: event.TCP, End: event.Closed},
	}
	tests := []struct {
		expr string
		want string
	}{
		// Decided at the request head: heads pass at once.
		{"~u /new", "req1 resp1 done1 notice flow"},
		{"~u data", "req2 notice resp2 done2 flow"},
		// Decided at done (a status): the heads held back come first.
		{"~c 404", "notice req2 resp2 done2 flow"},
		{"~c 200", "req1 resp1 done1 notice flow"},
		// A flow's own event matching keeps the flow's line, not its
		// exchanges.
		{"~tcp & !~http", "open notice flow"},
		{"~u nothing", "notice"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			s := NewSelector(mustParse(t, tt.expr), 0)
			var got []string
			for _, e := range events {
				s.Select(e, func(e event.Event) { got = append(got, name(e)) })
			}
			if g := strings.Join(got, " "); g != tt.want {
				t.Errorf("Select over two exchanges with %q passed %q; want %q", tt.expr, g, tt.want)
			}
			if s.held != 0 || len(s.exch) != 0 {
				t.Errorf("after the flow ended, the selector holds %d heads of %d flows; want none", s.held, len(s.exch))
			}
		})
	}
}

// TestSelectorReturnsDecision: Select reports whether the event itself
// was kept, as the capture gate needs it.
func TestSelectorReturnsDecision(t *testing.T) {
	s := NewSelector(mustParse(t, "~c 404"), 0)
	emit := func(event.Event) {}
	if s.Select(exch(1, event.PhaseRequest, "/x", 0), emit) {
		t.Error("Select(request head) = true before the exchange was decided; want false")
	}
	if !s.Select(exch(1, event.PhaseDone, "/x", 404), emit) {
		t.Error("Select(done 404) = false; want true")
	}
	if NewSelector(nil, 0).Select(exch(1, event.PhaseRequest, "/x", 0), emit) != true {
		t.Error("Select without a filter = false; want true")
	}
}

// TestSelectorWebSocketUpgrade: a kept WebSocket message brings its
// session's upgrade exchange, left out by the filter, just before it
// (once); a session none of whose messages is kept brings nothing.
func TestSelectorWebSocketUpgrade(t *testing.T) {
	up := func(phase event.HTTPPhase) *event.HTTP {
		h := exch(1, phase, "/ws", 101)
		h.Upgrade = "websocket"
		return h
	}
	msg := func(text string) *event.WebSocket {
		return &event.WebSocket{FlowID: 7, Opcode: "text", Data: []byte(text)}
	}
	events := []event.Event{
		&event.FlowOpen{ID: 7, Proto: event.TCP},
		up(event.PhaseRequest), up(event.PhaseResponse), up(event.PhaseDone),
		msg("hello"), msg("secret one"), msg("secret two"),
		&event.Flow{ID: 7, Proto: event.TCP, End: event.Closed},
	}
	tests := []struct {
		expr string
		want string
	}{
		{"~b secret", "req1 resp1 done1 websocket websocket flow"},
		{"~websocket & ~b nothing", ""},
		{"~u /ws", "req1 resp1 done1 flow"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			s := NewSelector(mustParse(t, tt.expr), 0)
			var got []string
			for _, e := range events {
				s.Select(e, func(e event.Event) { got = append(got, name(e)) })
			}
			if g := strings.Join(got, " "); g != tt.want {
				t.Errorf("Select over a WebSocket session with %q passed %q; want %q", tt.expr, g, tt.want)
			}
			if s.held != 0 || len(s.upgrades) != 0 {
				t.Errorf("after the flow ended, the selector holds %d events of %d upgrades; want none", s.held, len(s.upgrades))
			}
		})
	}
}
