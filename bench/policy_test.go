package bench

import (
	"fmt"
	"strings"
	"time"
)

// policyRules is the size of the policy the policy row measures.
const policyRules = 1000

// policyFile writes a policy of policyRules rules in the lab user's home:
// exact names, globs, addresses and ranges that the workload never
// contacts, with the one rule that allows the benchmark's host last, so
// that every decision walks the whole index. It returns htapod's flags.
func (b *bench) policyFile() []string {
	var s strings.Builder
	s.WriteString("# 1,000 rules for the benchmark; the last one allows it.\n")
	for i := 0; i < policyRules-1; i++ {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&s, "allow tcp:host%d.example%d.test:443\n", i, i%17)
		case 1:
			fmt.Fprintf(&s, "deny *.zone%d.test\n", i)
		case 2:
			fmt.Fprintf(&s, "deny 198.%d.%d.0/24\n", i%256, (i/256)%256)
		default:
			fmt.Fprintf(&s, "allow [2001:db8:%x::]/48:443\n", i)
		}
	}
	fmt.Fprintf(&s, "allow %s\n", host)
	return []string{"--policy", b.lab.WriteFile("bench.policy", []byte(s.String()), 0o644)}
}

// policyWorkload is HTTP keep-alive through htapod with a 1,000-rule
// policy against htapod with none, in the same run: the "direct" column of
// its row is htapod without a policy. The policy decides per flow (and per
// ClientHello), never per byte, so keep-alive should not see it.
func (b *bench) policyWorkload(secs string, timeout time.Duration, url string) workload {
	script := b.lab.WriteFile("bench-policy.lua", []byte(wrkScript), 0o644)
	flags := b.policyFile()
	return workload{
		name: "http-policy",
		rows: []row{{label: "HTTP/1.1 keep-alive 1 KiB, 10 conns, 1,000-rule policy vs none (both through htapod; wrk)",
			key: "http-policy", unit: reqs, target: ratioAtLeast(0.95)}},
		modes: []mode{direct, tapped},
		measure: func(m mode) (metrics, error) {
			if m == tapped {
				b.extra = flags
				defer func() { b.extra = nil }()
			}
			res, err := b.exec(tapped, timeout, "wrk", "-d", secs+"s", "--timeout", "5s", "-s", script, "-t", "2", "-c", "10", url)
			if err != nil {
				return nil, err
			}
			w, err := parseWrk(string(res.Stdout))
			if err != nil {
				return nil, err
			}
			return metrics{"http-policy": w.rate()}, nil
		},
		profile: b.cfg.dur - time.Second, // of the run with the policy
	}
}
