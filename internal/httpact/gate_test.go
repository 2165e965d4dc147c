package httpact

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/respond"
)

// denyHost answers requests to evil.test with a 403, as the policy does.
func denyHost(r *http.Request) respond.Decision {
	if strings.HasPrefix(r.Host, "evil.test") {
		return respond.Decision{Action: "policy deny", Response: &respond.Response{Status: 403, Body: []byte("denied\n")}}
	}
	return respond.Decision{}
}

// gateThrough reads everything the gate lets through from the command's
// bytes in, in small reads as a relay may.
func gateThrough(t *testing.T, in string) (*Gate, string, []string) {
	t.Helper()
	var teed []string
	g := NewGate(iotestHalf{strings.NewReader(in)}, Config{Decide: denyHost, Marks: NewMarks()}, func(dir event.Direction, b []byte) {
		teed = append(teed, dir.String()+":"+string(b))
	})
	var out bytes.Buffer
	buf := make([]byte, 7)
	for {
		n, err := g.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
	}
	return g, out.String(), teed
}

// iotestHalf reads at most 5 bytes at a time, so that heads and bodies
// come in pieces.
type iotestHalf struct{ r io.Reader }

func (h iotestHalf) Read(b []byte) (int, error) { return h.r.Read(b[:min(len(b), 5)]) }

// TestGatePassesRequestsUnchanged: allowed requests of every framing
// (Content-Length, chunked with a trailer, none), with header spelling
// net/http would change, reach the server byte for byte.
func TestGatePassesRequestsUnchanged(t *testing.T) {
	in := "GET /a HTTP/1.1\r\nhost: www.lab.test\r\nx-ZETA: 1\r\n\r\n" +
		"POST /b HTTP/1.1\r\nHost: www.lab.test\r\nContent-Length: 11\r\n\r\nhello world" +
		"PUT /c HTTP/1.1\r\nHost: www.lab.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 5\r\n\r\n" +
		"GET /d HTTP/1.0\r\n\r\n"
	g, out, teed := gateThrough(t, in)
	if out != in {
		t.Errorf("forwarded\n%q\nwant\n%q", out, in)
	}
	if refused, _ := g.Refused(); refused || len(teed) != 0 {
		t.Errorf("refused %v, teed %q; want nothing refused", refused, teed)
	}
}

// TestGateRefuses: a denied request is not forwarded, nor is anything
// after it; its head goes to the dissectors; the answer is the Decider's
// with Connection: close; and the gate says whether it was the first.
func TestGateRefuses(t *testing.T) {
	ok := "GET /a HTTP/1.1\r\nHost: www.lab.test\r\n\r\n"
	bad := "GET /b HTTP/1.1\r\nHost: evil.test\r\n\r\n"
	for _, tt := range []struct {
		name, in, forwarded string
		first               bool
	}{
		{"first request", bad + ok, "", true},
		{"second request", ok + bad + ok, ok, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g, out, teed := gateThrough(t, tt.in)
			if out != tt.forwarded {
				t.Errorf("forwarded %q; want %q", out, tt.forwarded)
			}
			refused, first := g.Refused()
			if !refused || first != tt.first {
				t.Errorf("Refused() = %v, %v; want true, %v", refused, first, tt.first)
			}
			if len(teed) != 1 || teed[0] != "up:"+bad {
				t.Errorf("teed %q; want the refused head", teed)
			}
			a, dropped := g.Answer()
			resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(a)), nil)
			if err != nil {
				t.Fatalf("answer %q: %v", a, err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 403 || !resp.Close || string(body) != "denied\n" || dropped != len(bad) {
				t.Errorf("answer %d close=%v %q, %d bytes dropped; want 403, close, the body, %d", resp.StatusCode, resp.Close, body, dropped, len(bad))
			}
		})
	}
}

// TestGateRefusesMalformed answers a head net/http refuses with a 400 and
// forwards none of it.
func TestGateRefusesMalformed(t *testing.T) {
	g, out, _ := gateThrough(t, "GET / HTTP/1.1\r\nHost www.lab.test\r\n\r\n")
	a, _ := g.Answer()
	if out != "" || !bytes.HasPrefix(a, []byte("HTTP/1.1 400 ")) {
		t.Errorf("forwarded %q, answered %q; want nothing forwarded and a 400", out, a)
	}
}

// TestGateSwitch: after a request to switch protocols the gate waits for
// the response's status; on a 101 (after a 100) everything passes, on a
// refusal the next request is judged again.
func TestGateSwitch(t *testing.T) {
	upgrade := "GET /ws HTTP/1.1\r\nHost: www.lab.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
	frames := "\x81\x85not http at all"
	for _, tt := range []struct {
		name, response, then, forwarded string
	}{
		{"switched", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", frames, upgrade + frames},
		{"refused", "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n", "GET /x HTTP/1.1\r\nHost: evil.test\r\n\r\n", upgrade},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pr, pw := io.Pipe()
			g := NewGate(pr, Config{Decide: denyHost}, nil)
			go func() {
				io.WriteString(pw, upgrade)
				io.WriteString(pw, tt.then)
				pw.Close()
			}()
			var out bytes.Buffer
			buf := make([]byte, 64)
			for {
				n, err := g.Read(buf)
				out.Write(buf[:n])
				if out.Len() == len(upgrade) {
					// The server answers in two writes, as it may.
					half := len(tt.response) / 2
					g.Response([]byte(tt.response[:half]))
					g.Response([]byte(tt.response[half:]))
				}
				if err != nil {
					break
				}
			}
			if out.String() != tt.forwarded {
				t.Errorf("forwarded %q; want %q", out.String(), tt.forwarded)
			}
		})
	}
}

// TestGateRefusesAmbiguous: heads whose body servers may frame in
// different ways, or too large a head, are answered 400 and not forwarded.
func TestGateRefusesAmbiguous(t *testing.T) {
	for _, tt := range []struct{ name, head string }{
		{"HTTP/1.0 chunked", "POST / HTTP/1.0\r\nHost: www.lab.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /x HTTP/1.1\r\nHost: evil.test\r\n\r\n"},
		{"length and chunked", "POST / HTTP/1.1\r\nHost: www.lab.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"huge head", "GET / HTTP/1.1\r\nHost: www.lab.test\r\nX-Big: " + strings.Repeat("a", maxRawHead+10) + "\r\n\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g, out, _ := gateThrough(t, tt.head)
			a, _ := g.Answer()
			if out != "" || !bytes.HasPrefix(a, []byte("HTTP/1.1 400 ")) {
				t.Errorf("forwarded %q, answered %.60q; want nothing forwarded and a 400", out, a)
			}
		})
	}
}

// TestGateConnectIsNotATunnel: a 200 to CONNECT from a server that goes
// on speaking HTTP does not open the gate: the next request is judged.
func TestGateConnectIsNotATunnel(t *testing.T) {
	connect := "CONNECT www.lab.test:443 HTTP/1.1\r\nHost: www.lab.test:443\r\n\r\n"
	pr, pw := io.Pipe()
	g := NewGate(pr, Config{Decide: denyHost}, nil)
	go func() {
		io.WriteString(pw, connect+"GET /secret HTTP/1.1\r\nHost: evil.test\r\n\r\n")
		pw.Close()
	}()
	g.Response([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
	var out bytes.Buffer
	io.Copy(&out, g)
	if out.String() != connect {
		t.Errorf("forwarded %q; want the CONNECT only", out.String())
	}
}

// TestGateUpgradeAfterServerEnded: once the server's side ended, a request
// to switch protocols does not wait for a status that cannot come.
func TestGateUpgradeAfterServerEnded(t *testing.T) {
	g := NewGate(strings.NewReader("GET /ws HTTP/1.1\r\nHost: www.lab.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"), Config{Decide: denyHost}, nil)
	g.Done()
	done := make(chan struct{})
	go func() { io.Copy(io.Discard, g); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the gate waited for a status after the server's side ended")
	}
}
