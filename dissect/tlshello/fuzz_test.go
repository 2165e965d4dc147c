package tlshello

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/event"
)

// FuzzParse checks that Parse never panics, returns only its documented
// errors, and agrees with itself on the bytes it says it took. It also
// runs the ServerHello parser and the passthrough dissector over b. The
// seed corpus in testdata/fuzz/FuzzParse holds real ClientHellos.
func FuzzParse(f *testing.F) {
	f.Add(baseHello().bytes())
	f.Add(records(baseHello().bytes()[recordHeaderLen:], 10))
	f.Add(records(handshakeMsg(typeServerHello, baseHello().serverBody())))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Parse(b)
		switch {
		case err == nil:
			if h.Len <= 0 || h.Len > len(b) || h.Len > MaxLen {
				t.Fatalf("Len = %d of %d bytes", h.Len, len(b))
			}
			again, err := Parse(b[:h.Len])
			if err != nil || !reflect.DeepEqual(again, h) {
				t.Fatalf("Parse(b[:Len]) = %+v, %v; want %+v", again, err, h)
			}
		case errors.Is(err, ErrIncomplete):
			if len(b) >= MaxLen {
				t.Fatalf("Parse(%d bytes) = ErrIncomplete beyond MaxLen", len(b))
			}
			if _, n, _ := parse(b); n <= len(b) || n > MaxLen {
				t.Fatalf("parse(%d bytes) needs %d", len(b), n)
			}
		case errors.Is(err, dissect.ErrNotProtocol), errors.Is(err, dissect.ErrMalformed), errors.Is(err, dissect.ErrTooLarge):
		default:
			t.Fatalf("Parse = %v: not a documented error", err)
		}
		notTLS := len(b) > 0 && b[0] != contentHandshake || len(b) > 1 && b[1] != 3
		if notTLS && !errors.Is(err, dissect.ErrNotProtocol) {
			t.Fatalf("Parse(% x…) = %v; want ErrNotProtocol", b[:2], err)
		}

		if _, n, err := parseServerHello(b); errors.Is(err, ErrIncomplete) && n <= len(b) {
			t.Fatalf("parseServerHello(%d bytes): incomplete, needs %d", len(b), n)
		}

		s := New(testMeta, dissect.Options{}, func(event.Event) {})
		half := len(b) / 2
		s.Data(event.Up, b[:half], time.Time{})
		s.Data(event.Down, b[half:], time.Time{})
		s.Data(event.Up, b[half:], time.Time{})
		s.End(event.Down, time.Time{})
		s.Close(time.Time{})
	})
}
