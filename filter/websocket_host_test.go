package filter

import (
	"net/netip"
	"testing"

	"github.com/htapod/htapod/event"
)

// A WebSocket message is matched by its connection's host, as an HTTP
// exchange is: ~d keeps a session's messages now that each message is
// decided by itself.
func TestDomainMatchesWebSocketMessage(t *testing.T) {
	msg := &event.WebSocket{FlowID: 1, Host: "ws.lab.test", Server: netip.MustParseAddrPort("203.0.113.10:80"), Opcode: "text"}
	for _, tt := range []struct {
		expr string
		want bool
	}{
		{"~d ws.lab.test", true},
		{"~d 203.0.113.10", true},
		{"~d other.test", false},
	} {
		f, err := Parse(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Match(msg); got != tt.want {
			t.Errorf("Parse(%q).Match(ws message) = %v; want %v", tt.expr, got, tt.want)
		}
	}
}
