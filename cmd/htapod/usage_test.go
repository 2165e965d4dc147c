package main

import (
	"strings"
	"testing"
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
