// Package respond lets htapod act on HTTP requests instead of only
// watching them: answer a request itself (a mock, a replayed recording, a
// denial), or disturb its exchange with a fault (a delay, a reset, an error
// status, silence, a slow line), per request.
//
// A Decider is asked once per request, with the request's head and body;
// its Decision says what to do. The zero Decision forwards the request
// unchanged. Flows that no Decider is given for stay a passive byte relay.
//
// Rules parses the command line's forms (--mock, --fault) into a Decider,
// and Replay builds one from a HAR file.
package respond

import (
	"net/http"
	"time"
)

// Decider decides one request. r's Body holds the request body when it
// has a known length up to 1 MiB (read into memory; r.GetBody reads it
// again), else nothing: a stream is not held back. r.URL is absolute
// (scheme and host set). It is called concurrently, from the
// goroutines of many flows, and must not block for long (a Fault's Delay
// is how to wait).
type Decider func(r *http.Request) Decision

// Decision is what to do with one request. The zero Decision forwards it.
type Decision struct {
	// Response, when non-nil, answers the request: nothing of it is sent
	// upstream.
	Response *Response
	// Fault, when non-nil, disturbs the exchange (forwarded or answered).
	Fault *Fault
	// Action labels the exchange in events and outputs ("mock",
	// "replay", "fault delay:200ms", …); "" for a request forwarded
	// unchanged.
	Action string
}

// Acts says whether d changes anything.
func (d Decision) Acts() bool { return d.Response != nil || d.Fault != nil }

// Response is an answer htapod gives in place of the server.
type Response struct {
	Status int
	// Header is sent as is, except Content-Length and Transfer-Encoding,
	// which htapod sets from Body and Chunked. A Content-Encoding that
	// htapod can apply (gzip, deflate, br, zstd) encodes Body; another is
	// removed and Body sent as it is.
	Header http.Header
	// Body is the content, not encoded.
	Body []byte
	// Chunked sends an HTTP/1.1 body with chunked framing instead of a
	// Content-Length.
	Chunked bool
}

// Fault disturbs one exchange. Fields combine: a Delay with a Throttle
// waits, then answers slowly.
type Fault struct {
	// Delay waits this long before the request is forwarded or answered.
	Delay time.Duration
	// Status answers with this status (and a short body saying it is a
	// fault) instead of forwarding.
	Status int
	// Reset resets the connection in the middle of the response (after
	// its head and half of its body).
	Reset bool
	// Timeout never answers: the request is held until the client gives
	// up.
	Timeout bool
	// Throttle bounds the response's bytes per second; 0 means no bound.
	Throttle int64
	// Refuse and Blackhole act on the connection, before any request: the
	// command's connect is refused (a RST), or never answered (its SYN is
	// dropped). They apply to TCP flows of any protocol whose destination
	// the rule's filter matches (~d with the name the command resolved, or
	// the address); a Decider's Decision never carries them.
	Refuse, Blackhole bool
}

// Connect says whether f acts on the connection rather than on a request.
func (f *Fault) Connect() bool { return f != nil && (f.Refuse || f.Blackhole) }

// Chain asks each Decider in turn and returns the first decision that
// acts or is labelled (Action set); the zero Decision (forward) when none
// does. Nil Deciders are skipped.
func Chain(ds ...Decider) Decider {
	return func(r *http.Request) Decision {
		for _, d := range ds {
			if d == nil {
				continue
			}
			if dec := d(r); dec.Acts() || dec.Action != "" {
				return dec
			}
		}
		return Decision{}
	}
}
