package e2e

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/htapod/htapod/internal/lab"
)

// nodeModules is where Debian's node-ws package (installed by
// scripts/test-setup.sh) puts Node's ws module.
const nodeModules = "/usr/share/nodejs"

// wsNode is a session of Node's ws client with permessage-deflate on its
// own terms: the server resets its compressor per message
// (server_no_context_takeover), the client keeps a 10-bit window across
// messages, and every message is compressed (threshold 0). It sends a
// text, a long text made of the first (a back-reference across messages),
// a JSON message, a text in two fragments and a binary message, each
// echoed, then closes with 1000 "bye". It prints the server's
// Sec-WebSocket-Extensions, then each echo (long ones by length).
const wsNode = `const WebSocket = require("ws");
const ws = new WebSocket(process.argv[1], {
  perMessageDeflate: { serverNoContextTakeover: true, clientMaxWindowBits: 10, threshold: 0 },
  handshakeTimeout: 10000,
});
const bin = Buffer.alloc(2048);
for (let i = 0; i < bin.length; i++) bin[i] = i & 255;
const steps = [
  ["hello from node ws"],
  ["hello from node ws ".repeat(50)],
  [JSON.stringify({ op: "subscribe", channel: "ticker" })],
  ["node ws fragment one ".repeat(20), "node ws fragment two ".repeat(20)],
  [bin],
];
let i = 0;
function next() {
  if (i === steps.length) return ws.close(1000, "bye");
  const parts = steps[i++];
  parts.forEach((p, k) => ws.send(p, { fin: k === parts.length - 1 }));
}
ws.on("upgrade", (res) => console.log(res.headers["sec-websocket-extensions"]));
ws.on("open", next);
ws.on("message", (data, isBinary) => {
  if (isBinary) console.log("binary " + data.length + " " + data.equals(bin));
  else console.log(data.length > 100 ? String(data.length) : data.toString());
  next();
});
ws.on("error", (e) => { console.error(e.message); process.exit(1); });
setTimeout(() => { console.error("timeout"); process.exit(1); }, 20000).unref();
`

// TestWebSocketDeflateNode runs Node's ws client against the lab's
// permessage-deflate echo server: with -b the report shows every message
// inflated both ways in order (the fragmented one whole, the binary one
// by size and type), the HAR has them as _webSocketMessages, and JSON
// lines carry each message's text (binary in base64) with its compressed
// size.
func TestWebSocketDeflateNode(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed: run scripts/test-setup.sh")
	}
	if _, err := os.Stat(filepath.Join(nodeModules, "ws", "package.json")); err != nil {
		t.Fatalf("Node's ws package is missing (%v): run scripts/test-setup.sh", err)
	}
	e := newEnv(t)
	e.StartWebSocketDeflate()
	url := "ws://www.lab.test" + port(lab.PortWSDeflate) + "/echo"
	argv := []string{"node", "-e", wsNode, url}
	opts := lab.RunOptions{Env: []string{"NODE_PATH=" + nodeModules}}
	wantOut := "permessage-deflate; server_no_context_takeover\nhello from node ws\n950\n" +
		`{"op":"subscribe","channel":"ticker"}` + "\n840\nbinary 2048 true\n"

	long := strings.Repeat("hello from node ws ", 50)
	frag := strings.Repeat("node ws fragment one ", 20) + strings.Repeat("node ws fragment two ", 20)
	bin := make([]byte, 2048)
	for i := range bin {
		bin[i] = byte(i)
	}
	bin64 := base64.StdEncoding.EncodeToString(bin)

	harPath := filepath.Join(e.Home(), "node.har")
	res := e.htapodOpts(opts, append([]string{"-b", "--har", harPath, "--"}, argv...)...)
	if res.ExitCode != 0 || string(res.Stdout) != wantOut {
		t.Fatalf("htapod -b -- node ws: %v; want exit 0 and\n%s", res, wantOut)
	}
	report := string(res.Stderr)
	var data int
	for _, f := range linesOf(report, "ws") {
		if len(f) >= 3 && (strings.HasSuffix(f[1], "text") || strings.HasSuffix(f[1], "binary")) {
			data++
			if !strings.HasPrefix(f[len(f)-1], "(deflate ") {
				t.Errorf("ws line %q does not say the message was deflated", f)
			}
		}
	}
	if data != 10 {
		t.Errorf("report has %d ws text/binary lines; want 10 (5 each way); report:\n%s", data, report)
	}
	for _, want := range []string{"       hello from node ws\n", "         \"op\": \"subscribe\",\n",
		"       " + long + "\n", "       " + frag + "\n", "       [binary, 2.0 KB, application/octet-stream]\n"} {
		if strings.Count(report, want) != 2 {
			t.Errorf("report does not show %q both ways; report:\n%s", want, report)
		}
	}

	var wantMsgs []string
	for _, m := range []string{"hello from node ws", long, `{"op":"subscribe","channel":"ticker"}`, frag, bin64} {
		wantMsgs = append(wantMsgs, "send "+m, "receive "+m)
	}
	if msgs := harMessages(t, harPath); len(msgs) < len(wantMsgs) || !slices.Equal(msgs[:len(wantMsgs)], wantMsgs) {
		t.Errorf("HAR _webSocketMessages = %q; want them to start with %q", msgs, wantMsgs)
	}

	res = e.htapodOpts(opts, append([]string{"--json", "--"}, argv...)...)
	if res.ExitCode != 0 || string(res.Stdout) != wantOut {
		t.Fatalf("htapod --json -- node ws: %v; want exit 0 and\n%s", res, wantOut)
	}
	var got []string
	sc := bufio.NewScanner(strings.NewReader(string(res.Stderr)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev struct {
			Type, Dir, Opcode, Text, Base64 string
			Compressed                      bool
			CompressedSize                  int    `json:"compressed_size"`
			CloseCode                       int    `json:"close_code"`
			CloseReason                     string `json:"close_reason"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Type != "websocket" {
			continue
		}
		if ev.Opcode == "close" {
			got = append(got, ev.Dir+" close "+strconv.Itoa(ev.CloseCode)+" "+ev.CloseReason)
			continue
		}
		if !ev.Compressed || ev.CompressedSize == 0 {
			t.Errorf("websocket event %s: compressed %v, compressed_size %d; want a deflated message", sc.Text(), ev.Compressed, ev.CompressedSize)
		}
		got = append(got, ev.Dir+" "+ev.Opcode+" "+ev.Text+ev.Base64)
	}
	var want []string
	for _, m := range []string{"text hello from node ws", "text " + long, `text {"op":"subscribe","channel":"ticker"}`, "text " + frag, "binary " + bin64} {
		want = append(want, "up "+m, "down "+m)
	}
	want = append(want, "up close 1000 bye", "down close 1000 bye")
	if !slices.Equal(got, want) {
		t.Errorf("--json: websocket events\n%q\nwant\n%q", got, want)
	}
}
