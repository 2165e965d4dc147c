package policy

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/htapod/htapod/event"
)

func open(proto event.Proto, dst, name string, pid int) *event.FlowOpen {
	return &event.FlowOpen{Proto: proto, Dst: netip.MustParseAddrPort(dst), Name: name,
		Process: &event.Process{PID: pid, Exe: "/usr/bin/curl", Argv: []string{"curl", "-s", "x"}}}
}

func TestLearnWritesAndMerges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.txt")
	var l Learner
	for _, e := range []event.Event{
		open(event.TCP, "203.0.113.10:443", "www.lab.test", 10),
		open(event.TCP, "203.0.113.10:443", "WWW.lab.test", 11),
		open(event.UDP, "203.0.113.53:53", "", 12),
		open(event.TCP, "[2001:db8::20]:80", "", 13),
		&event.Flow{Proto: event.TCP, Dst: netip.MustParseAddrPort("203.0.113.99:1")}, // not a FlowOpen
	} {
		l.Handle(e)
	}
	n, err := l.Write(path)
	if err != nil || n != 3 {
		t.Fatalf("Write = %d, %v; want 3 rules", n, err)
	}
	got, _ := os.ReadFile(path)
	want := learnHeader + `# 2 flows, first by curl -s x (pid 10)
allow tcp:www.lab.test:443
# 1 flow, first by curl -s x (pid 12)
allow udp:203.0.113.53:53
# 1 flow, first by curl -s x (pid 13)
allow tcp:[2001:db8::20]:80
`
	if string(got) != want {
		t.Fatalf("file =\n%s\nwant\n%s", got, want)
	}
	p := New()
	if err := p.ParseFile(path); err != nil {
		t.Fatalf("the learned file does not parse: %v", err)
	}
	if !p.Decide(q(event.TCP, "203.0.113.10", 443, "www.lab.test")).Allow || p.Decide(q(event.TCP, "203.0.113.11", 443, "other.lab.test")).Allow {
		t.Errorf("learned policy: www.lab.test:443 should pass and other.lab.test not")
	}

	// The same run again adds nothing; one more host is appended, the
	// user's edits kept.
	if n, err := l.Write(path); err != nil || n != 0 {
		t.Errorf("second Write = %d, %v; want nothing added", n, err)
	}
	os.WriteFile(path, append(got, "deny tcp:evil.lab.test:443 # mine\n"...), 0o644)
	l.Handle(open(event.TCP, "203.0.113.66:443", "evil.lab.test", 20))
	l.Handle(open(event.TCP, "203.0.113.11:443", "api.lab.test", 21))
	if n, err := l.Write(path); err != nil || n != 1 {
		t.Fatalf("merge Write = %d, %v; want 1 (the denied host stays denied)", n, err)
	}
	merged, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(merged), string(got)+"deny tcp:evil.lab.test:443 # mine\n# 1 flow") ||
		!strings.HasSuffix(string(merged), "allow tcp:api.lab.test:443\n") {
		t.Errorf("merged file =\n%s", merged)
	}
}

func TestLearnBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.txt")
	os.WriteFile(path, []byte("permit x\n"), 0o644)
	var l Learner
	l.Handle(open(event.TCP, "203.0.113.10:443", "www.lab.test", 10))
	if _, err := l.Write(path); err == nil || !strings.Contains(err.Error(), "policy.txt:1:1: unknown action") {
		t.Errorf("Write over a bad file = %v; want its syntax error", err)
	}
}
