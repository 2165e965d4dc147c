package body_test

import (
	"testing"

	"github.com/htapod/htapod/dissect/internal/body"
	"github.com/htapod/htapod/event"
)

// TestHead checks how Head reads Content-Type and Content-Encoding.
func TestHead(t *testing.T) {
	tests := []struct {
		name string
		h    []event.Header
		// want is the Body of a Sink given h and no content.
		encoding, contentType string
	}{
		{"none", nil, "", ""},
		{"media type only", []event.Header{{Name: "content-type", Value: "Text/HTML ;charset=utf-8"}}, "", "text/html"},
		{"OWS around the type", []event.Header{{Name: "Content-Type", Value: " \tapplication/json\t"}}, "", "application/json"},
		{"first type that has one", []event.Header{
			{Name: "Content-Type", Value: "; charset=utf-8"}, {Name: "Content-Type", Value: "image/png"}}, "", "image/png"},
		{"list without spaces", []event.Header{{Name: "Content-Encoding", Value: "GZIP,br"}}, "gzip, br", ""},
		{"list over lines", []event.Header{
			{Name: "content-encoding", Value: "gzip"}, {Name: "X-Other", Value: "zstd"},
			{Name: "CONTENT-ENCODING", Value: "Br"}}, "gzip, br", ""},
		{"empty elements", []event.Header{{Name: "Content-Encoding", Value: " , gzip ,,\t"}}, "gzip", ""},
		{"empty value", []event.Header{{Name: "Content-Encoding", Value: ""}}, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := body.New(10)
			s.Head(tc.h)
			got := s.Event()
			if got.Encoding != tc.encoding || got.ContentType != tc.contentType || s.ContentType() != tc.contentType {
				t.Errorf("Head(%v): Encoding, ContentType = %q, %q; want %q, %q",
					tc.h, got.Encoding, got.ContentType, tc.encoding, tc.contentType)
			}
			if got.Size != 0 || got.DecodedSize != 0 || got.Truncated || got.Data != nil {
				t.Errorf("Head(%v): Body = %+v; want no content", tc.h, got)
			}
		})
	}
}

// TestNilSink checks that a nil Sink is a message without a body.
func TestNilSink(t *testing.T) {
	var s *body.Sink
	if got := s.Event(); got.Size != 0 || got.Data != nil || got.Encoding != "" {
		t.Errorf("nil Sink: Event() = %+v; want the zero Body", got)
	}
	if got := s.ContentType(); got != "" {
		t.Errorf("nil Sink: ContentType() = %q; want \"\"", got)
	}
}

// TestEnd checks that End ends a body once and for all.
func TestEnd(t *testing.T) {
	s := body.New(100)
	s.Write([]byte("abc"))
	s.End(true)
	s.Write([]byte("def"))
	s.End(false)
	got := s.Event()
	if got.Size != 3 || got.DecodedSize != 3 || string(got.Data) != "abc" || got.Truncated {
		t.Errorf("after End: Body = %+v; want 3 bytes abc, not truncated", got)
	}
}

// TestEventData checks that an Event's Data is not changed by later
// Writes.
func TestEventData(t *testing.T) {
	s := body.New(100)
	s.Write([]byte("abc"))
	ev := s.Event()
	s.Write([]byte("def"))
	if string(ev.Data) != "abc" || string(s.Event().Data) != "abcdef" {
		t.Errorf("Data = %q, then %q; want abc, then abcdef", ev.Data, s.Event().Data)
	}
	if cap(ev.Data) != len(ev.Data) {
		t.Errorf("cap(Data) = %d; want %d (clipped)", cap(ev.Data), len(ev.Data))
	}
}
