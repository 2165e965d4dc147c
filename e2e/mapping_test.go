package e2e

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/htapod/htapod/internal/lab"
)

// TestMapHost checks --map-host: an address inside that reaches the host's
// loopback. htapod's parent runs in the lab's namespace, so the lab's
// 127.0.0.1 is "the host" here.
func TestMapHost(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const body = "hello from the host's loopback\n"
	ln := e.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	tests := []struct {
		name string
		args []string
		ok   bool
	}{
		{"mapped address", []string{"--map-host", "10.10.10.10", "--", "curl", "-sS", "--max-time", "10", "http://10.10.10.10:" + port + "/"}, true},
		{"host name", []string{"--map-host", "10.10.10.10", "--", "curl", "-sS", "--max-time", "10", "http://host.htapod.internal:" + port + "/"}, true},
		{"not mapped", []string{"--", "curl", "-sS", "--max-time", "5", "http://10.10.10.10:" + port + "/"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.htapod(tt.args...)
			got := res.ExitCode == 0 && string(res.Stdout) == body
			if got != tt.ok {
				t.Errorf("htapod %q: %v; want success %v", tt.args, res, tt.ok)
			}
			if !tt.ok && strings.Contains(string(res.Stdout), body) {
				t.Errorf("htapod %q reached the host's loopback without --map-host", tt.args)
			}
		})
	}
}

// TestMap checks --map FROM=TO: a connection to FROM reaches TO instead.
func TestMap(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name string
		args []string
	}{
		{"address", []string{"--map", lab.Unreachable4 + "=" + lab.WWW4, "--", "curl", "-sS", "--max-time", "10", "http://" + lab.Unreachable4 + "/"}},
		{"address and port", []string{"--map", lab.WWW4 + ":8080=" + lab.WWW4 + ":80", "--", "curl", "-sS", "--max-time", "10", "http://" + lab.WWW4 + ":8080/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.htapod(tt.args...)
			if res.ExitCode != 0 || string(res.Stdout) != lab.IndexHTML {
				t.Errorf("htapod %q: %v; want exit 0 and the index page", tt.args, res)
			}
		})
	}
}
