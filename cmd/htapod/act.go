package main

import (
	"fmt"
	"os"

	flag "github.com/spf13/pflag"

	"github.com/htapod/htapod"
	"github.com/htapod/htapod/respond"
	"github.com/htapod/htapod/sink/redact"
)

// actFlags are the flags that act on HTTP requests: mocks, faults, replay.
type actFlags struct {
	mock         []string
	mockFile     []string
	fault        []string
	replay       string
	replayMiss   string
	matchBody    bool
	matchHeaders []string
	ignoreParams []string
	keepLast     bool
	keepSecrets  bool
	redact       []string
}

func (a *actFlags) register(fs *flag.FlagSet) {
	fs.StringArrayVar(&a.mock, "mock", nil, "answer the requests `FILTER=STATUS[:BODY|:@FILE]`'s filter matches, e.g. '~u /api/users=200:@users.json'")
	fs.StringArrayVar(&a.mockFile, "mock-file", nil, "read --mock rules from `FILE`, one a line (indented 'Name: value' lines add headers)")
	fs.StringArrayVar(&a.fault, "fault", nil, "disturb the exchanges `FILTER=ACTION`'s filter matches: delay:200ms, reset, status:503, timeout, throttle:64k, or for connections refuse, blackhole; optionally @30%")
	fs.StringVar(&a.replay, "replay", "", "answer HTTP requests from the HAR `FILE` (a run recorded with --har), offline")
	fs.StringVar(&a.replayMiss, "replay-miss", "error", "what a request the recording lacks gets, `MODE`: error (a 502 that says so) or forward (the network)")
	fs.BoolVar(&a.matchBody, "replay-match-body", false, "with --replay, match request bodies too")
	fs.StringArrayVar(&a.matchHeaders, "replay-match-header", nil, "with --replay, match this request header `NAME` too")
	fs.StringArrayVar(&a.ignoreParams, "replay-ignore-param", nil, "with --replay, leave query parameter `NAME` out of the match ('*': the whole query)")
	fs.BoolVar(&a.keepSecrets, "keep-secrets", false, "keep cookies and credentials in JSON and HAR files (default: their values are REDACTED)")
	fs.StringArrayVar(&a.redact, "redact", nil, "also redact in JSON and HAR files: `PATTERN` header:NAME, param:NAME, body:REGEX, or NAME (header and parameter)")
	fs.BoolVar(&a.keepLast, "replay-keep-last", false, "with --replay, answer repeated requests with the last recorded response (default: in recorded order)")
}

// options turns the flags into library options.
func (a *actFlags) options() ([]htapod.Option, error) {
	opts := []htapod.Option{htapod.WithSecrets(a.keepSecrets)}
	if len(a.redact) > 0 {
		r, err := redact.New(a.redact...)
		if err != nil {
			return nil, fmt.Errorf("--%w", err)
		}
		opts = append(opts, htapod.WithRedaction(r))
	}
	for _, s := range a.mock {
		r, err := respond.ParseMock(s, "")
		if err != nil {
			return nil, fmt.Errorf("--%w", err)
		}
		opts = append(opts, htapod.WithMock(r))
	}
	for _, f := range a.mockFile {
		rules, err := respond.ParseMockFile(f)
		if err != nil {
			return nil, fmt.Errorf("--mock-file: %w", err)
		}
		opts = append(opts, htapod.WithMock(rules...))
	}
	for _, s := range a.fault {
		r, err := respond.ParseFault(s)
		if err != nil {
			return nil, fmt.Errorf("--%w", err)
		}
		opts = append(opts, htapod.WithFault(r))
	}
	if a.replay == "" {
		return opts, nil
	}
	if a.replayMiss != "error" && a.replayMiss != "forward" {
		return nil, fmt.Errorf("--replay-miss %q: want error or forward", a.replayMiss)
	}
	rp, err := respond.LoadReplay(a.replay, respond.ReplayOptions{MatchBody: a.matchBody,
		MatchHeaders: a.matchHeaders, IgnoreParams: a.ignoreParams, KeepLast: a.keepLast,
		Forward: a.replayMiss == "forward"})
	if err != nil {
		return nil, fmt.Errorf("--replay: %w", err)
	}
	if rp.Truncated > 0 {
		fmt.Fprintf(os.Stderr, "htapod: warning: --replay: %d recorded bodies were cut at the recording's body limit and replay cut short (record with a larger --body-limit)\n", rp.Truncated)
	}
	return append(opts, htapod.WithReplay(rp)), nil
}
