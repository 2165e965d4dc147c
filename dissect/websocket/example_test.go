package websocket_test

import (
	"fmt"
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/dissect/websocket"
	"github.com/htapod/htapod/event"
)

// The dissector reads frames both ways and reports whole messages.
func Example() {
	s := websocket.New(dissect.Meta{FlowID: 1}, dissect.Options{}, func(e event.Event) {
		if w, ok := e.(*event.WebSocket); ok {
			fmt.Println(w.Dir, w.Opcode, w.Size, string(w.Data))
		}
	})
	t := time.Now()
	// RFC 6455 §5.7: a masked "Hello" from the client, and an unmasked
	// one from the server in two fragments.
	s.Data(event.Up, []byte("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"), t)
	s.Data(event.Down, []byte("\x01\x03\x48\x65\x6c\x80\x02\x6c\x6f"), t)
	s.Close(t)
	// Output:
	// up text 5 Hello
	// down text 5 Hello
}
