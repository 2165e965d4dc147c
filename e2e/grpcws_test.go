package e2e

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"

	"github.com/htapod/htapod/internal/lab"
)

// TestDissectGRPC makes unary gRPC calls (the health check, Go client in
// the box, Go server in the lab) over TLS, with the lab's CA passed to
// htapod, and over h2c: the report shows the method, the message counts
// and sizes, and the call's status, OK or NOT_FOUND.
func TestDissectGRPC(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	e.StartGRPC()
	client := lab.Client(t)
	msgSize := func(m proto.Message) int { return proto.Size(m) }
	serving := msgSize(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING})
	tests := []struct {
		name    string
		tls     bool
		service string
		stdout  string
		exit    int
		// status is a regexp for the gRPC status in the response line;
		// up and down are the message summaries.
		status   string
		up, down string
	}{
		{
			name: "TLS OK", tls: true, service: "", stdout: "SERVING\n", status: `grpc OK`,
			up: "1 msg ↑ 0 B", down: "1 msg ↓ " + size(serving),
		},
		{
			name: "TLS NOT_FOUND", tls: true, service: "nope", stdout: "NotFound: unknown service\n", exit: 3,
			status: `grpc (5|NOT_FOUND) unknown service`,
			up:     "1 msg ↑ " + size(msgSize(&healthpb.HealthCheckRequest{Service: "nope"})), down: "0 msg ↓ 0 B",
		},
		{
			name: "h2c OK", service: "", stdout: "SERVING\n", status: `grpc OK`,
			up: "1 msg ↑ 0 B", down: "1 msg ↓ " + size(serving),
		},
		{
			name: "h2c NOT_FOUND", service: "nope", stdout: "NotFound: unknown service\n", exit: 3,
			status: `grpc (5|NOT_FOUND) unknown service`,
			up:     "1 msg ↑ " + size(msgSize(&healthpb.HealthCheckRequest{Service: "nope"})), down: "0 msg ↓ 0 B",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			argv := []string{client, "grpc", "www.lab.test" + port(lab.PortGRPCH2C), tt.service}
			url := "http://www.lab.test" + port(lab.PortGRPCH2C) + "/" + lab.GRPCMethod
			proto := "h2c" // cleartext HTTP/2 with prior knowledge
			if tt.tls {
				proto = "h2"
				argv = []string{client, "grpc", "-tls", "www.lab.test" + port(lab.PortGRPCTLS), tt.service}
				url = labURL(lab.PortGRPCTLS, "/"+lab.GRPCMethod)
			}
			res := e.tap(lab.RunOptions{}, append([]string{"-v", "--"}, argv...)...)
			if res.ExitCode != tt.exit || string(res.Stdout) != tt.stdout {
				t.Fatalf("htapod -- %q: %v; want exit %d and %q", argv, res, tt.exit, tt.stdout)
			}
			report := string(res.Stderr)
			wantExchanges(t, report, []request{{"POST", url, proto}}, [][]string{{"200 OK"}})
			resps := responses(report)
			if len(resps) != 1 {
				return // reported by wantExchanges
			}
			line := strings.Join(resps[0], "  ")
			want := regexp.MustCompile(`^200 OK  ` + tt.status + `  ` + regexp.QuoteMeta(lab.GRPCMethod) +
				`  ` + regexp.QuoteMeta(tt.up) + `  ` + regexp.QuoteMeta(tt.down) + `  `)
			if !want.MatchString(line) {
				t.Errorf("report's response line = %q; want it to match %q", line, want)
			}
			if tt.tls {
				wantTLS(t, report, tlsLine{host: "www.lab.test", version: "TLS 1.3", alpn: "h2", how: "intercepted"})
			}
		})
	}
}

// TestDissectWebSocket runs a WebSocket session (Go client in the box:
// send "hello", read the echo, close 1000 "bye") over ws and wss: the
// report shows the upgrade exchange, then the messages and close frames
// both ways with their sizes, and the flow closed (or reset, as it is
// without htapod), not failed.
func TestDissectWebSocket(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t)
	e.StartWebSocket()
	client := lab.Client(t)
	tests := []struct {
		name, url string
		dest      string
	}{
		{"ws", "ws://www.lab.test" + port(lab.PortWS) + "/echo", lab.WWW4 + port(lab.PortWS)},
		{"wss", "wss://www.lab.test" + port(lab.PortWSS) + "/echo", lab.WWW4 + port(lab.PortWSS)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			argv := []string{client, "ws", tt.url, "hello"}
			res := e.tap(lab.RunOptions{}, append([]string{"-v", "--"}, argv...)...)
			if res.ExitCode != 0 || string(res.Stdout) != "hello\n" {
				t.Fatalf("htapod -- %q: %v; want exit 0 and the echo", argv, res)
			}
			report := string(res.Stderr)
			httpURL := "http" + strings.TrimPrefix(tt.url, "ws")
			wantExchanges(t, report, []request{{"GET", httpURL, "http/1.1"}},
				[][]string{{"101 Switching Protocols"}})
			if r := responses(report); len(r) == 1 && !slices.Contains(r[0], "→ websocket") {
				t.Errorf("the upgrade's response line %q does not say → websocket", r[0])
			}
			closing := fmt.Sprintf("%d B", 2+len("bye"))
			want := [][]string{
				{"ws", "↑ text", size(len("hello"))},
				{"ws", "↓ text", size(len("hello"))},
				{"ws", "↑ close", closing, "1000 bye"},
				{"ws", "↓ close", closing, "1000 bye"},
			}
			if got := linesOf(report, "ws"); !slices.EqualFunc(got, want, slices.Equal) {
				t.Errorf("report's ws lines = %q; want %q; report:\n%s", got, want, report)
			}
			// Without htapod, the server resets the connection when the
			// client's close_notify comes after its own close; so a reset
			// is true, but "failed" would not be.
			wantFlow(t, report, "tcp", []string{tt.dest}, "closed", "reset")
		})
	}
}
