package text

import (
	"bytes"
	"testing"

	"github.com/htapod/htapod/event"
)

// TestWebSocketMessages renders messages with -b: text as it is, JSON
// pretty-printed, binary as size and type, compressed with both sizes.
func TestWebSocketMessages(t *testing.T) {
	tests := []struct {
		name string
		in   *event.WebSocket
		want string
	}{
		{"text", &event.WebSocket{Dir: event.Up, Opcode: "text", Size: 5, Data: []byte("hello")},
			"ws   ↑ text  5 B\n       hello\n"},
		{"json pretty", &event.WebSocket{Dir: event.Down, Opcode: "text", Size: 15, Data: []byte(`{"a":1,"b":[2]}`)},
			"ws   ↓ text  15 B\n       {\n         \"a\": 1,\n         \"b\": [\n           2\n         ]\n       }\n"},
		{"compressed", &event.WebSocket{Dir: event.Down, Opcode: "text", Size: 5, Data: []byte("Hello"), Compressed: true, CompressedSize: 7},
			"ws   ↓ text  5 B  (deflate 7 B)\n       Hello\n"},
		{"binary", &event.WebSocket{Dir: event.Up, Opcode: "binary", Size: 8, Data: []byte("\x89PNG\r\n\x1a\n")},
			"ws   ↑ binary  8 B\n       [binary, 8 B, image/png]\n"},
		{"not inflated", &event.WebSocket{Dir: event.Down, Opcode: "text", Size: 2, Compressed: true, CompressedSize: 2, Err: "inflate: bad"},
			"ws   ↓ text  2 B  (deflate 2 B)\n       ✗ inflate: bad\n"},
		{"cut at the body limit", &event.WebSocket{Dir: event.Up, Opcode: "text", Size: 10, Data: []byte("abc"), Truncated: true},
			"ws   ↑ text  10 B\n       abc\n       … (7 B more)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			NewWithOptions(&buf, Options{Bodies: true}).Handle(tt.in)
			if got := buf.String(); got != tt.want {
				t.Errorf("Handle(%s) wrote\n%q\nwant\n%q", tt.name, got, tt.want)
			}
		})
	}
}
