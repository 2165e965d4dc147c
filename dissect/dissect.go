// Package dissect defines how protocol dissectors read flows. Dissectors
// are pure: bytes in, events out, no I/O, no goroutines of their own, no
// clocks (times come with the bytes). Each protocol lives in a package
// below this one (dissect/http1, dissect/http2, dissect/websocket,
// dissect/dns, dissect/tlshello).
//
// The relay feeds a dissector a copy of a flow's bytes (the plaintext,
// when TLS was intercepted) in the order it relayed them, from a queue of
// its own: a slow or failing dissector never stalls or alters the flow.
package dissect

import (
	"errors"
	"net/netip"
	"time"

	"github.com/htapod/htapod/event"
)

// Meta describes the flow a dissector reads. Dissectors copy what they put
// into events.
type Meta struct {
	FlowID   uint64
	Proto    event.Proto
	Src, Dst netip.AddrPort
	// Name is the DNS name the command used, or the SNI; may be "".
	Name string
	// TLS says the bytes are the plaintext of an intercepted TLS
	// connection (so URLs are https); ALPN is what was negotiated.
	TLS  bool
	ALPN string
	// Start is when the flow began.
	Start time.Time
	// Switched holds the header fields of the 101 response after which
	// the bytes are another protocol's (an HTTP/1 upgrade), nil otherwise:
	// the new protocol's dissector reads what the handshake agreed there
	// (WebSocket's Sec-WebSocket-Extensions).
	Switched []event.Header
}

// Options bound what dissectors keep.
type Options struct {
	// BodyLimit is how many decoded body bytes an event may carry; the rest
	// is counted. Zero means DefaultBodyLimit; negative keeps none.
	BodyLimit int
	// MaxHeaderBytes bounds a message head (HTTP/1 header block, HPACK
	// header list); beyond it the dissector gives up with ErrTooLarge.
	// Zero means DefaultMaxHeaderBytes.
	MaxHeaderBytes int
}

// Defaults for Options.
const (
	DefaultBodyLimit      = 64 << 10
	DefaultMaxHeaderBytes = 256 << 10
)

// Limits returns o with zero fields replaced by the defaults.
func (o Options) Limits() Options {
	if o.BodyLimit == 0 {
		o.BodyLimit = DefaultBodyLimit
	}
	if o.BodyLimit < 0 {
		o.BodyLimit = 0
	}
	if o.MaxHeaderBytes == 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	return o
}

// Emit receives a dissector's events. It is called synchronously from
// Data and Close.
type Emit func(event.Event)

// Stream dissects the two byte streams of one TCP flow.
//
// Calls are never concurrent. After Data returns an error the dissector
// gets no more data, only Close.
type Stream interface {
	// Data gives the next bytes of one direction, as relayed at time t. b
	// is only valid during the call: keep a copy of what you need.
	Data(dir event.Direction, b []byte, t time.Time) error
	// End says that direction ended (FIN): no more Data for it.
	End(dir event.Direction, t time.Time)
	// Close says the flow is over. Exchanges still open are emitted as
	// cut short (e.g. event.HTTP with Phase Done and Err set).
	Close(t time.Time)
}

// A Skipper is a Stream that may need some of the bytes to come only
// counted: a message body beyond what it keeps, with no content coding to
// undo. The relay then hands it their count (Skip) instead of a copy
// (Data), which takes bulk bodies off the relay's path.
type Skipper interface {
	// Skippable says how many of the bytes of dir after those given so
	// far need only be counted (0 for none).
	Skippable(dir event.Direction) int64
	// Skip counts n bytes of dir that arrived at t, in place of Data; n is
	// within what Skippable said.
	Skip(dir event.Direction, n int64, t time.Time)
}

// Datagrams dissects the datagrams of one UDP flow.
type Datagrams interface {
	// Datagram gives one datagram of one direction; b as for Stream.Data.
	Datagram(dir event.Direction, b []byte, t time.Time) error
	Close(t time.Time)
}

// Errors dissectors return for common reasons (wrap them with detail).
var (
	// ErrNotProtocol: the bytes are not this protocol at all.
	ErrNotProtocol = errors.New("not this protocol")
	// ErrTooLarge: a head or frame exceeds Options' bounds.
	ErrTooLarge = errors.New("exceeds the dissector's bounds")
	// ErrMalformed: the bytes break the protocol's rules.
	ErrMalformed = errors.New("malformed")
)
