package e2e

import (
	"bytes"
	"os"
	"testing"

	"github.com/htapod/htapod/internal/lab"
)

// TestHTTPClients runs real HTTP clients through htapod and checks that each
// got exactly what the lab's server sent and that htapod reported the flow.
func TestHTTPClients(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	upload := lab.Pattern(200_000)
	tests := []struct {
		name  string
		argv  []string
		stdin []byte
		want  []byte   // stdout, exactly
		dests []string // the flow's destination, one of
		dns   string   // a name the report must show resolved, if any
	}{
		{
			name: "curl IPv4",
			argv: []string{"curl", "-4", "-sS", "http://www.lab.test/"},
			want: []byte(lab.IndexHTML), dests: www[:1], dns: "www.lab.test",
		},
		{
			name: "curl IPv6 literal",
			argv: []string{"curl", "-6", "-sS", "http://[2001:db8::10]/"},
			want: []byte(lab.IndexHTML), dests: www[1:],
		},
		{
			name: "curl either family",
			argv: []string{"curl", "-sS", "http://www.lab.test/"},
			want: []byte(lab.IndexHTML), dests: www, dns: "www.lab.test",
		},
		{
			name: "curl download 5 MB",
			argv: []string{"curl", "-4", "-sS", "http://www.lab.test/bytes?n=5000000"},
			want: lab.Pattern(5_000_000), dests: www[:1],
		},
		{
			name:  "curl upload",
			argv:  []string{"curl", "-4", "-sS", "--data-binary", "@-", "http://www.lab.test/echo"},
			stdin: upload, want: upload, dests: www[:1],
		},
		{
			name: "wget",
			argv: []string{"wget", "-qO-", "http://api.lab.test/"},
			want: []byte(lab.IndexHTML), dests: []string{lab.API4 + ":80"}, dns: "api.lab.test",
		},
		{
			name: "python3 urllib",
			argv: []string{"python3", "-c", `import sys, urllib.request
sys.stdout.write(urllib.request.urlopen("http://www.lab.test/", timeout=10).read().decode())`},
			want: []byte(lab.IndexHTML), dests: www, dns: "www.lab.test",
		},
		{
			name: "node http.get",
			argv: []string{"node", "-e", `require("http").get("http://api.lab.test/", (r) => r.pipe(process.stdout))
	.on("error", (e) => { console.error(e.message); process.exit(1); });`},
			want: []byte(lab.IndexHTML), dests: []string{lab.API4 + ":80"}, dns: "api.lab.test",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.htapodOpts(lab.RunOptions{Stdin: tt.stdin}, append([]string{"-v", "--"}, tt.argv...)...)
			if res.ExitCode != 0 {
				t.Fatalf("htapod -- %q: %v; want exit 0", tt.argv, res)
			}
			if !bytes.Equal(res.Stdout, tt.want) {
				t.Errorf("htapod -- %q: stdout has %d bytes %.80q; want the server's %d bytes %.80q",
					tt.argv, len(res.Stdout), res.Stdout, len(tt.want), tt.want)
			}
			wantFlow(t, string(res.Stderr), "tcp", tt.dests, "closed")
			if tt.dns != "" {
				wantDNS(t, string(res.Stderr), tt.dns)
			}
		})
	}
}

// TestOutputFile checks -o: the report goes to the file and not to stderr,
// and the command's stdout is byte for byte what it is without htapod.
func TestOutputFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Binary bytes after the download, so that any text mangling shows.
	script := `curl -4 -sS "http://www.lab.test/bytes?n=300000" && printf 'a\000b\r\n\377end'`
	report := e.Home() + "/report.txt"

	direct := e.direct(lab.RunOptions{}, "sh", "-c", script)
	if direct.ExitCode != 0 {
		t.Fatalf("without htapod: %v", direct)
	}
	res := e.htapod("-v", "-o", report, "--", "sh", "-c", script)
	if res.ExitCode != 0 {
		t.Fatalf("htapod -o: %v", res)
	}
	if !bytes.Equal(res.Stdout, direct.Stdout) {
		t.Errorf("stdout through htapod: %d bytes; differs from the %d bytes without htapod",
			len(res.Stdout), len(direct.Stdout))
	}
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("htapod -o %s: %v", report, err)
	}
	wantFlow(t, string(data), "tcp", www[:1], "closed")
	noReport(t, "stderr with -o", string(res.Stderr))
}
