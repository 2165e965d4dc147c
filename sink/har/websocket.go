package har

import (
	"bytes"
	"encoding/base64"
	"maps"
	"slices"
	"unicode/utf8"

	"github.com/htapod/htapod/event"
)

// Bounds on the WebSocket messages held for one upgrade entry: the entry
// is written when its flow ends, so its messages wait in memory until
// then. Messages past either bound are counted in
// _webSocketMessagesDropped.
const (
	maxWSMessages = 100_000
	maxWSBytes    = 16 << 20
)

// wsMessage is one element of _webSocketMessages, the field Chrome's
// developer tools export for a WebSocket on its upgrade entry (and import
// again): text as it is, binary in base64.
type wsMessage struct {
	// Type is "send" (from the command) or "receive".
	Type string `json:"type"`
	// Time is in seconds since the Unix epoch, as Chrome writes it.
	Time float64 `json:"time"`
	// Opcode is RFC 6455's: 1 text, 2 binary, 8 close, 9 ping, 10 pong.
	Opcode int    `json:"opcode"`
	Data   string `json:"data"`
}

// opcodes numbers event.WebSocket's opcodes.
var opcodes = map[string]int{"text": 1, "binary": 2, "close": 8, "ping": 9, "pong": 10}

// wsEntry is an upgrade exchange whose messages are being collected.
type wsEntry struct {
	h       *event.HTTP
	msgs    []wsMessage
	bytes   int
	dropped int
}

// isWebSocket says h is the done event of an exchange that switched to
// WebSocket: its entry waits for the messages.
func isWebSocket(h *event.HTTP) bool {
	return h.Phase == event.PhaseDone && h.Upgrade == "websocket" && h.Status == 101
}

// add appends the message m to the entry, within the bounds.
func (x *wsEntry) add(m *event.WebSocket) {
	if len(x.msgs) >= maxWSMessages || x.bytes+len(m.Data) > maxWSBytes {
		x.dropped++
		return
	}
	typ := "send"
	if m.Dir == event.Down {
		typ = "receive"
	}
	data := string(m.Data)
	if m.Opcode == "binary" || !utf8.Valid(m.Data) {
		data = base64.StdEncoding.EncodeToString(m.Data)
	}
	if m.Opcode == "close" {
		data = m.CloseReason
	}
	x.bytes += len(data)
	x.msgs = append(x.msgs, wsMessage{Type: typ, Time: float64(m.Time.UnixNano()) / 1e9,
		Opcode: opcodes[m.Opcode], Data: data})
}

// marshal encodes the entry with its messages.
func (x *wsEntry) marshal() ([]byte, error) {
	e := newEntry(x.h)
	e.ResourceType = "websocket"
	e.WebSocketMessages = x.msgs
	if e.WebSocketMessages == nil {
		e.WebSocketMessages = []wsMessage{}
	}
	e.WebSocketDropped = x.dropped
	return encodeEntry(e)
}

// handleWebSocket takes the events that make WebSocket entries: the
// upgrade exchange (held), its messages, and its flow's end (the entry is
// then spilled). It reports whether it took e. w.mu is held.
func (w *Writer) handleWebSocket(e event.Event) bool {
	switch e := e.(type) {
	case *event.HTTP:
		if !isWebSocket(e) {
			return false
		}
		if w.ws == nil {
			w.ws = map[uint64]*wsEntry{}
		}
		if old := w.ws[e.FlowID]; old != nil {
			w.spillWS(old)
		}
		w.ws[e.FlowID] = &wsEntry{h: e}
	case *event.WebSocket:
		if x := w.ws[e.FlowID]; x != nil {
			x.add(e)
		}
	case *event.Flow:
		if x := w.ws[e.ID]; x != nil {
			delete(w.ws, e.ID)
			w.spillWS(x)
		}
	default:
		return false
	}
	return true
}

// spillWS appends a finished WebSocket entry to the spill. w.mu is held.
func (w *Writer) spillWS(x *wsEntry) {
	line, err := x.marshal()
	w.appendEntry(line, err, x.h)
}

// pendingWS encodes the WebSocket entries whose flows are still open, for
// a Flush: each as it stands, by flow ID, joined by ",\n". w.mu is held.
func (w *Writer) pendingWS() []byte {
	var b bytes.Buffer
	for _, id := range slices.Sorted(maps.Keys(w.ws)) {
		line, err := w.ws[id].marshal()
		if err != nil {
			continue // reported when the entry is spilled
		}
		if b.Len() > 0 {
			b.WriteString(",\n")
		}
		b.Write(line)
	}
	return b.Bytes()
}
