package body_test

import (
	"bytes"
	"compress/gzip"
	"fmt"

	"github.com/htapod/htapod/dissect/internal/body"
	"github.com/htapod/htapod/event"
)

// A gzip body arrives in two pieces; the Sink keeps its first 11 decoded
// bytes.
func ExampleSink() {
	var wire bytes.Buffer
	zw := gzip.NewWriter(&wire)
	zw.Write([]byte("hello, world: hello, world"))
	zw.Close()

	s := body.New(11)
	s.Head([]event.Header{
		{Name: "Content-Type", Value: "text/plain; charset=utf-8"},
		{Name: "Content-Encoding", Value: "gzip"},
	})
	half := wire.Len() / 2
	s.Write(wire.Bytes()[:half])
	s.Write(wire.Bytes()[half:])
	s.End(true)

	b := s.Event()
	fmt.Printf("%s %s: %d bytes sent, %d decoded, kept %q (truncated %v)\n",
		b.ContentType, b.Encoding, b.Size, b.DecodedSize, b.Data, b.Truncated)
	// Output:
	// text/plain gzip: 40 bytes sent, 26 decoded, kept "hello, worl" (truncated true)
}
