package text

import (
	"testing"
	"time"
)

// Values just under a unit boundary must not round up into the smaller
// unit's "1000": 999 999 B renders "1.0 MB", not "1000.0 KB"; 59.96 s
// renders "1m0s", not "60.0 s".
func TestUnitBoundaries(t *testing.T) {
	for _, tt := range []struct {
		got, want string
	}{
		{Size(999_999), "1.0 MB"},
		{Size(999_999_999), "1.00 GB"},
		{Duration(59_960 * time.Millisecond), "1m0s"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q; want %q", tt.got, tt.want)
		}
	}
}
