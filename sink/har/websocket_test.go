package har

import (
	"encoding/json"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/htapod/htapod/event"
)

// wsHAR decodes the WebSocket fields of a HAR's entries as a reader (Chrome's
// import) would.
type wsHAR struct {
	Log struct {
		Entries []struct {
			Request      struct{ URL string }
			Response     struct{ Status int }
			ResourceType string `json:"_resourceType"`
			Messages     []struct {
				Type   string
				Time   float64
				Opcode int
				Data   string
			} `json:"_webSocketMessages"`
		}
	}
}

func readWS(t *testing.T, path string) wsHAR {
	t.Helper()
	readHAR(t, path) // a valid HAR first
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f wsHAR
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestWebSocketMessages writes a WebSocket session: its upgrade entry
// carries the messages as _webSocketMessages, in a Flush while the flow
// is open and at Close after it ended, next to an ordinary entry.
func TestWebSocketMessages(t *testing.T) {
	w, path := newTestWriter(t)
	server := netip.MustParseAddrPort("203.0.113.10:80")
	upgrade := &event.HTTP{FlowID: 5, Seq: 1, Phase: event.PhaseDone, Proto: "HTTP/1.1", Scheme: "http",
		Method: "GET", Authority: "www.lab.test", Path: "/echo", Status: 101, Reason: "Switching Protocols",
		Upgrade: "websocket", Start: t0, RespStart: t0.Add(time.Millisecond), End: t0.Add(time.Millisecond), Server: server}
	w.Handle(upgrade)
	w.Handle(&event.WebSocket{FlowID: 5, Time: t0.Add(time.Second), Dir: event.Up, Opcode: "text", Size: 5, Data: []byte("hello")})
	w.Handle(samples[0])
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f := readWS(t, path)
	if len(f.Log.Entries) != 2 || len(f.Log.Entries[1].Messages) != 1 || f.Log.Entries[1].Messages[0].Data != "hello" {
		t.Fatalf("flushed HAR's entries = %+v; want the sample, then the upgrade with the message so far", f.Log.Entries)
	}
	w.Handle(&event.WebSocket{FlowID: 5, Time: t0.Add(2 * time.Second), Dir: event.Down, Opcode: "binary", Size: 3, Data: []byte{0, 1, 2}})
	w.Handle(&event.WebSocket{FlowID: 6, Time: t0, Dir: event.Down, Opcode: "text", Size: 5, Data: []byte("other")})
	w.Handle(&event.WebSocket{FlowID: 5, Time: t0.Add(3 * time.Second), Dir: event.Up, Opcode: "close", Size: 5, CloseCode: 1000, CloseReason: "bye"})
	w.Handle(&event.Flow{ID: 5})
	w.Handle(&event.WebSocket{FlowID: 5, Time: t0.Add(4 * time.Second), Dir: event.Up, Opcode: "text", Data: []byte("late")})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f = readWS(t, path)
	if len(f.Log.Entries) != 2 {
		t.Fatalf("HAR has %d entries; want 2", len(f.Log.Entries))
	}
	ws := f.Log.Entries[1]
	if ws.Request.URL != "http://www.lab.test/echo" || ws.Response.Status != 101 || ws.ResourceType != "websocket" {
		t.Errorf("upgrade entry = %s %d %q; want http://www.lab.test/echo 101 websocket", ws.Request.URL, ws.Response.Status, ws.ResourceType)
	}
	type msg struct {
		typ    string
		opcode int
		data   string
		time   float64
	}
	var got []msg
	for _, m := range ws.Messages {
		got = append(got, msg{m.Type, m.Opcode, m.Data, m.Time - float64(t0.UnixNano())/1e9})
	}
	want := []msg{{"send", 1, "hello", 1}, {"receive", 2, "AAEC", 2}, {"send", 8, "bye", 3}}
	if len(got) != len(want) {
		t.Fatalf("_webSocketMessages = %+v; want %+v", got, want)
	}
	for i := range want {
		if got[i].typ != want[i].typ || got[i].opcode != want[i].opcode || got[i].data != want[i].data ||
			got[i].time < want[i].time-0.001 || got[i].time > want[i].time+0.001 {
			t.Errorf("_webSocketMessages[%d] = %+v; want %+v", i, got[i], want[i])
		}
	}
	if len(f.Log.Entries[0].Messages) != 0 {
		t.Errorf("ordinary entry has _webSocketMessages %+v", f.Log.Entries[0].Messages)
	}
	if err := validate(t, path); err != nil {
		t.Errorf("har-validator rejects a HAR with _webSocketMessages:\n%s", err)
	}
}

// TestWebSocketOpenAtClose: an upgrade whose flow never ended is written
// by Close with what it had.
func TestWebSocketOpenAtClose(t *testing.T) {
	w, path := newTestWriter(t)
	w.Handle(&event.HTTP{FlowID: 9, Phase: event.PhaseDone, Proto: "HTTP/1.1", Scheme: "http", Method: "GET",
		Authority: "www.lab.test", Path: "/", Status: 101, Upgrade: "websocket", Start: t0, End: t0})
	w.Handle(&event.WebSocket{FlowID: 9, Time: t0, Dir: event.Down, Opcode: "text", Data: []byte("hi")})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f := readWS(t, path)
	if len(f.Log.Entries) != 1 || len(f.Log.Entries[0].Messages) != 1 || f.Log.Entries[0].Messages[0].Type != "receive" {
		t.Fatalf("entries = %+v; want the upgrade with one received message", f.Log.Entries)
	}
}
