package main

import (
	"fmt"
	"io"
	"os"

	flag "github.com/spf13/pflag"

	"github.com/htapod/htapod"
	"github.com/htapod/htapod/policy"
)

// exitDenied is htapod's exit status when the command succeeded but the
// policy denied something (or, with --audit, would have). It is outside
// 125–127 (htapod's failures, the shell's) and 128+N (signals), and not
// 1 or 2, which commands use most.
const exitDenied = 3

// policyFlags are --allow, --deny, --policy, --audit, --deny-fronting
// and --learn.
type policyFlags struct {
	rules        []ruleArg // in command-line order: first match wins
	audit        bool
	denyFronting bool
	learn        string
	noProcess    bool

	report      policy.Report
	learner     *policy.Learner
	learnFailed bool
}

// ruleArg is one --allow, --deny or --policy, in order.
type ruleArg struct {
	flag, value string
}

// ruleFlag appends to the shared, ordered list of rules.
type ruleFlag struct {
	name string
	list *[]ruleArg
}

func (r ruleFlag) String() string { return "" }
func (r ruleFlag) Type() string {
	if r.name == "policy" {
		return "FILE"
	}
	return "PATTERN"
}
func (r ruleFlag) Set(v string) error {
	*r.list = append(*r.list, ruleArg{r.name, v})
	return nil
}

func (p *policyFlags) register(fs *flag.FlagSet) {
	fs.Var(ruleFlag{"allow", &p.rules}, "allow", "allow `PATTERN` (host glob, IP or CIDR, [tcp:|udp:]…[:PORT]); any allow denies the rest")
	fs.Var(ruleFlag{"deny", &p.rules}, "deny", "deny `PATTERN`; rules decide in the order given, first match wins")
	fs.Var(ruleFlag{"policy", &p.rules}, "policy", "read allow/deny rules from `FILE` (see docs/policy.md)")
	fs.BoolVar(&p.audit, "audit", false, "apply no rule: report what the policy would deny")
	fs.BoolVar(&p.denyFronting, "deny-fronting", false, "deny a TLS/HTTP name that did not resolve to its connection's address, when the name or the address came from a lookup through htapod")
	fs.StringVar(&p.learn, "learn", "", "write (or add to) policy `FILE` with what the command contacted")
	fs.BoolVar(&p.noProcess, "no-process", false, "do not look up the process behind each flow")
}

// options builds the policy and the library options that apply it. A bad
// pattern or file is an error naming it (file:line:column).
func (p *policyFlags) options() ([]htapod.Option, error) {
	opts := []htapod.Option{htapod.WithProcesses(!p.noProcess)}
	if len(p.rules) > 0 || p.denyFronting {
		pol := policy.New() // with no rule, it allows all: --deny-fronting alone
		for _, r := range p.rules {
			var err error
			switch r.flag {
			case "allow":
				err = pol.Add(policy.Allow, r.value, "--allow")
			case "deny":
				err = pol.Add(policy.Deny, r.value, "--deny")
			default:
				err = pol.ParseFile(r.value)
			}
			if err != nil {
				if r.flag != "policy" {
					err = fmt.Errorf("--%w", err)
				}
				return nil, err
			}
		}
		opts = append(opts, htapod.WithPolicy(pol, htapod.PolicyOptions{Audit: p.audit, DenyFronting: p.denyFronting}),
			htapod.WithEventHandler(p.report.Handle))
	} else if p.audit {
		return nil, fmt.Errorf("--audit needs rules (--allow, --deny or --policy)")
	}
	if p.learn != "" {
		p.learner = &policy.Learner{}
		opts = append(opts, htapod.WithEventHandler(p.learner.Handle))
	}
	return opts, nil
}

// finish writes the denials (to report) and the learned policy. A
// learned file that cannot be written makes the run fail (125) unless the
// command itself failed.
func (p *policyFlags) finish(report io.Writer) {
	if _, err := p.report.WriteTo(report); err != nil {
		fmt.Fprintf(os.Stderr, "htapod: write the policy report: %v\n", err)
	}
	if p.learner == nil {
		return
	}
	n, err := p.learner.Write(p.learn)
	switch {
	case err != nil:
		fmt.Fprintf(os.Stderr, "htapod: --learn: %v\n", err)
		p.learnFailed = true
	case n > 0:
		fmt.Fprintf(report, "policy: %d rules added to %s\n", n, p.learn)
	}
}

// exitCode is htapod's exit status given code, the status it would have
// without a policy: exitDenied when that is 0 and the policy denied
// something (or would have), 125 when --learn failed.
func (p *policyFlags) exitCode(code int) int {
	switch {
	case code != 0:
		return code
	case p.learnFailed:
		return 125
	case p.report.Denied():
		return exitDenied
	}
	return 0
}
