package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/htapod/htapod"
	"github.com/htapod/htapod/filter"
)

func TestFlagUsages(t *testing.T) {
	var o options
	got := flagUsages(o.flagSet())
	tests := []struct {
		flag, want string
	}{
		{"--headers", "  -H, --headers "},
		{"--verbose", "  -v, --verbose "},
		{"--json", "      --json "},
		{"--output", "  -o, --output FILE "},
		{"--summary", "      --summary[=WHEN] "},
		{"--color", "      --color WHEN "},
	}
	for _, tt := range tests {
		t.Run(tt.flag, func(t *testing.T) {
			if !strings.Contains(got, tt.want) {
				t.Errorf("flagUsages() has no line starting %q:\n%s", tt.want, got)
			}
		})
	}
	if strings.Contains(got, "true|false") || strings.Contains(got, "[=true]") {
		t.Errorf("flagUsages() shows a boolean flag with a value:\n%s", got)
	}
}

func TestExitCode(t *testing.T) {
	full := &htapod.OutputError{Output: "HAR file x.har", Err: errors.New("no space left on device")}
	tests := []struct {
		name   string
		status int
		err    error
		want   int
	}{
		{"command's status", 3, nil, 3},
		{"output failed, command succeeded", 0, full, 125},
		{"output failed, command failed", 3, full, 3},
		{"htapod failed", 125, errors.New("create tun: permission denied"), 125},
		{"htapod and an output failed", 125, errors.Join(errors.New("start box"), full), 125},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitCode(htapod.Status{Code: tt.status}, tt.err); got != tt.want {
				t.Errorf("exitCode(%d, %v) = %d; want %d", tt.status, tt.err, got, tt.want)
			}
		})
	}
}

// TestKeptBodies: bodies are kept (up to the default or --body-limit) only
// when an output shows or matches them; otherwise none are.
func TestKeptBodies(t *testing.T) {
	grep, _ := filter.Grep("x")
	onBodies, _ := filter.Parse("~bs error")
	notBodies, _ := filter.Parse("~d api")
	for _, tt := range []struct {
		name string
		o    *options // options hold a policy report and its lock
		f    *filter.Filter
		want int
	}{
		{"report only", &options{}, nil, -1},
		{"filter without bodies", &options{}, notBodies, -1},
		{"-b", &options{bodies: true}, nil, 0},
		{"--json", &options{json: true}, nil, 0},
		{"--har", &options{har: "x.har"}, nil, 0},
		{"--grep", &options{}, grep, 0},
		{"body filter", &options{}, onBodies, 0},
		{"--body-limit", &options{bodyLimit: 100}, nil, 100},
	} {
		if got := tt.o.keptBodies(tt.f); got != tt.want {
			t.Errorf("%s: keptBodies = %d; want %d", tt.name, got, tt.want)
		}
	}
}
