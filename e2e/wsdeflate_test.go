package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/htapod/htapod/internal/lab"
)

// wsPython is a session of Python's websockets client, which offers
// permessage-deflate as browsers do: a text, a JSON message, then a long
// text made of the first (a back-reference across messages: context
// takeover), each echoed. It prints the negotiated extensions, then each
// echo (the long one by its length).
const wsPython = `import asyncio, json, sys, websockets
async def main():
    async with websockets.connect(sys.argv[1], open_timeout=10, close_timeout=5) as ws:
        print(",".join(e.name for e in ws.extensions))
        for m in ["hello from the lab", json.dumps({"op": "subscribe", "channel": "ticker"})]:
            await ws.send(m)
            print(await ws.recv())
        await ws.send("hello from the lab " * 50)
        print(len(await ws.recv()))
asyncio.run(main())
`

// TestWebSocketDeflate runs a Python websockets session against the lab's
// echo server with permessage-deflate: with -b the report shows each
// message inflated (JSON pretty-printed), the HAR has them as
// _webSocketMessages on the upgrade entry, and JSON lines carry the text;
// --grep finds a message by its text.
func TestWebSocketDeflate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.StartWebSocketDeflate()
	url := "ws://www.lab.test" + port(lab.PortWSDeflate) + "/echo"
	argv := []string{"/usr/bin/python3", "-c", wsPython, url}
	long := strings.Repeat("hello from the lab ", 50)
	wantOut := "permessage-deflate\nhello from the lab\n{\"op\": \"subscribe\", \"channel\": \"ticker\"}\n950\n"

	harPath := filepath.Join(e.Home(), "ws.har")
	res := e.htapod(append([]string{"-b", "--har", harPath, "--"}, argv...)...)
	if res.ExitCode != 0 || string(res.Stdout) != wantOut {
		t.Fatalf("htapod -b -- python websockets: %v; want exit 0 and\n%s", res, wantOut)
	}
	report := string(res.Stderr)
	ws := linesOf(report, "ws")
	var texts int
	for _, f := range ws {
		if len(f) >= 3 && strings.HasSuffix(f[1], "text") {
			texts++
			if !strings.HasPrefix(f[len(f)-1], "(deflate ") {
				t.Errorf("ws line %q does not say the message was deflated", f)
			}
		}
	}
	if texts != 6 {
		t.Errorf("report has %d ws text lines; want 6 (3 each way); report:\n%s", texts, report)
	}
	for _, want := range []string{"       hello from the lab\n", "         \"op\": \"subscribe\",\n", "       " + long + "\n"} {
		if strings.Count(report, want) != 2 {
			t.Errorf("report does not show %q both ways; report:\n%s", want, report)
		}
	}

	msgs := harMessages(t, harPath)
	wantMsgs := []string{"send hello from the lab", "receive hello from the lab",
		`send {"op": "subscribe", "channel": "ticker"}`, `receive {"op": "subscribe", "channel": "ticker"}`,
		"send " + long, "receive " + long}
	if len(msgs) < len(wantMsgs) || !slices.Equal(msgs[:len(wantMsgs)], wantMsgs) {
		t.Errorf("HAR _webSocketMessages = %q; want them to start with %q", msgs, wantMsgs)
	}

	res = e.htapod(append([]string{"--json", "--grep", "subscribe", "--"}, argv...)...)
	if res.ExitCode != 0 || string(res.Stdout) != wantOut {
		t.Fatalf("htapod --json --grep subscribe: %v", res)
	}
	var got []string
	sc := bufio.NewScanner(strings.NewReader(string(res.Stderr)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev struct {
			Type, Dir, Text string
			Compressed      bool
			CompressedSize  int `json:"compressed_size"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Type != "websocket" || ev.Text == "" {
			continue
		}
		if !ev.Compressed || ev.CompressedSize == 0 {
			t.Errorf("websocket event %s: compressed %v, compressed_size %d; want a deflated message", sc.Text(), ev.Compressed, ev.CompressedSize)
		}
		got = append(got, ev.Dir+" "+ev.Text)
	}
	// The filter decides per message: the others of the connection are
	// left out.
	want := []string{`up {"op": "subscribe", "channel": "ticker"}`, `down {"op": "subscribe", "channel": "ticker"}`}
	if !slices.Equal(got, want) {
		t.Errorf("--json --grep subscribe: websocket events %q; want %q; output:\n%s", got, want, res.Stderr)
	}
}

// harMessages returns the _webSocketMessages of the HAR at path as
// "type data" strings.
func harMessages(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read HAR: %v", err)
	}
	var har struct {
		Log struct {
			Entries []struct {
				Messages []struct{ Type, Data string } `json:"_webSocketMessages"`
			}
		}
	}
	if err := json.Unmarshal(b, &har); err != nil {
		t.Fatalf("HAR: %v", err)
	}
	var out []string
	for _, e := range har.Log.Entries {
		for _, m := range e.Messages {
			out = append(out, m.Type+" "+m.Data)
		}
	}
	return out
}

// TestWebSocketFilterHAR: a filter that matches only a WebSocket message
// (--grep on its text) keeps the session's upgrade exchange with it: the
// report shows the upgrade before the message, and the HAR has the
// upgrade entry carrying the matching messages (only those).
func TestWebSocketFilterHAR(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.StartWebSocketDeflate()
	url := "ws://www.lab.test" + port(lab.PortWSDeflate) + "/echo"
	harPath := filepath.Join(e.Home(), "grep.har")
	res := e.htapod("--har", harPath, "--grep", "subscribe", "--", "/usr/bin/python3", "-c", wsPython, url)
	if res.ExitCode != 0 {
		t.Fatalf("htapod --har --grep subscribe -- python websockets: %v", res)
	}
	report := string(res.Stderr)
	wantExchanges(t, report, []request{{"GET", "http" + strings.TrimPrefix(url, "ws"), "http/1.1"}},
		[][]string{{"101 Switching Protocols"}})
	subscribe := `{"op": "subscribe", "channel": "ticker"}`
	want := []string{"send " + subscribe, "receive " + subscribe}
	if msgs := harMessages(t, harPath); !slices.Equal(msgs, want) {
		t.Errorf("HAR _webSocketMessages = %q; want the matching messages %q", msgs, want)
	}
}
