package e2e

import "testing"

// sampleReport is htapod's report format as documented, with the kinds of
// lines the tests look for, and stray lines from a command's stderr.
const sampleReport = `curl: (7) Failed to connect
tcp  203.0.113.10:80  www.lab.test  ↑78 B  ↓615 B  3 ms  closed
tcp  [2001:db8::10]:80  ↑78 B  ↓615 B  3 ms  reset
udp  203.0.113.53:53  ↑40 B  ↓56 B  30 s  idle
dns  www.lab.test A → 203.0.113.10  2 ms
tcp is not a report line closed
`

// TestReportMatchers checks the report helpers on the documented format, so
// that an e2e failure means htapod and not the matcher.
func TestReportMatchers(t *testing.T) {
	tests := []struct {
		proto string
		dests []string
		ends  []string
		want  bool
	}{
		{"tcp", www, []string{"closed"}, true},
		{"tcp", www[:1], []string{"closed"}, true},
		{"tcp", www[1:], []string{"reset"}, true},
		{"tcp", www[1:], []string{"closed"}, false},
		{"udp", []string{"203.0.113.53:53"}, []string{"closed", "idle"}, true},
		{"udp", []string{"203.0.113.53:53"}, []string{"closed"}, false},
		{"tcp", []string{"203.0.113.11:80"}, []string{"closed"}, false},
		{"udp", www, []string{"closed"}, false},
	}
	for _, tt := range tests {
		if got := findFlow(sampleReport, tt.proto, tt.dests, tt.ends...); got != tt.want {
			t.Errorf("findFlow(sample, %q, %q, %q) = %v; want %v", tt.proto, tt.dests, tt.ends, got, tt.want)
		}
	}
	for name, want := range map[string]bool{"www.lab.test": true, "lab.test": false, "api.lab.test": false} {
		if got := hasDNS(sampleReport, name); got != want {
			t.Errorf("hasDNS(sample, %q) = %v; want %v", name, got, want)
		}
	}
	if got := firstReportLine("curl: (7) oops\nplain text\n"); got != "" {
		t.Errorf("firstReportLine(no report) = %q; want none", got)
	}
	if got := firstReportLine(sampleReport); got == "" {
		t.Errorf("firstReportLine(sample) found nothing")
	}
}
