package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestTrimCutLine(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"whole lines stay", "a\nb\n", "a\nb\n"},
		{"a cut last line goes", "a\nb\n{\"v\":1,\"ty", "a\nb\n"},
		{"one cut line leaves nothing", "{\"v\":1", ""},
		{"empty stays empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "report")
			if err := os.WriteFile(p, []byte(tt.in), 0o644); err != nil {
				t.Fatal(err)
			}
			trimCutLine(p)
			got, err := os.ReadFile(p)
			if err != nil || string(got) != tt.want {
				t.Errorf("trimCutLine(%q) left %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}
