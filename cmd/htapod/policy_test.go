package main

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/htapod/htapod/event"
)

func TestPolicyExitCode(t *testing.T) {
	tests := []struct {
		name        string
		code        int
		denied      bool
		learnFailed bool
		want        int
	}{
		{"nothing denied", 0, false, false, 0},
		{"denied, command succeeded", 0, true, false, exitDenied},
		{"denied, command failed", 7, true, false, 7},
		{"htapod failed", 125, true, false, 125},
		{"learn failed", 0, true, true, 125},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p policyFlags
			if tt.denied {
				p.report.Handle(&event.Policy{Stage: event.StageConnect, Denied: true, Dst: netip.MustParseAddrPort("203.0.113.20:7")})
			}
			p.learnFailed = tt.learnFailed
			if got := p.exitCode(tt.code); got != tt.want {
				t.Errorf("exitCode(%d) = %d; want %d", tt.code, got, tt.want)
			}
		})
	}
}

func TestPolicyFlagsInOrder(t *testing.T) {
	var o options
	fs := o.flagSet()
	if err := fs.Parse([]string{"--deny", "evil.lab.test", "--allow", "*.lab.test", "--deny", "udp:*", "--", "true"}); err != nil {
		t.Fatal(err)
	}
	if _, err := o.pol.options(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range o.pol.rules {
		got = append(got, r.flag+" "+r.value)
	}
	if strings.Join(got, ", ") != "deny evil.lab.test, allow *.lab.test, deny udp:*" {
		t.Errorf("rules = %q; want them in command-line order", got)
	}
	o = options{}
	fs = o.flagSet()
	fs.Parse([]string{"--allow", "www.lab.test:http", "--", "true"})
	if _, err := o.pol.options(); err == nil || !strings.HasPrefix(err.Error(), `--allow "www.lab.test:http": bad port`) {
		t.Errorf("bad --allow: %v", err)
	}
}
