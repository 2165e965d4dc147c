package http2

import (
	"slices"
	"strings"

	"github.com/htapod/htapod/event"
)

// maxCodings bounds how many content codings a body may stack; each one
// holds a decoder's window.
const maxCodings = 3

// body accumulates one message body as event.Body: it counts the DATA
// payload, undoes the content codings as the bytes arrive and keeps at
// most limit decoded bytes. Its memory is bounded by limit and the
// decoders' windows, whatever the body's size.
type body struct {
	ev    event.Body
	limit int
	// codings are the codings to undo, in the order applied; failed says
	// one is unknown or decoding failed (DecodedSize -1).
	codings []string
	failed  bool
	// decs[i] undoes codings[i]; made at the first byte.
	decs []*inflater
}

// head reads Content-Type and Content-Encoding from a message head.
func (b *body) head(hs []event.Header) {
	var enc []string
	for _, h := range hs {
		switch strings.ToLower(h.Name) {
		case "content-type":
			if b.ev.ContentType == "" {
				b.ev.ContentType = mediaType(h.Value)
			}
		case "content-encoding":
			enc = append(enc, h.Value)
		}
	}
	b.ev.Encoding = strings.ToLower(strings.Join(enc, ", "))
	b.codings, b.failed = nil, false
	for c := range strings.SplitSeq(b.ev.Encoding, ",") {
		switch c = strings.TrimSpace(c); c {
		case "", "identity":
		case "x-gzip":
			b.codings = append(b.codings, "gzip")
		case "gzip", "deflate", "br", "zstd":
			b.codings = append(b.codings, c)
		default:
			b.failed = true
		}
	}
	if len(b.codings) > maxCodings {
		b.failed = true
	}
}

// mediaType returns the media type of a Content-Type value, lower case and
// without parameters.
func mediaType(v string) string {
	v, _, _ = strings.Cut(v, ";")
	return strings.ToLower(strings.TrimSpace(v))
}

// write takes the next DATA payload (padding removed). p is only read
// during the call.
func (b *body) write(p []byte) {
	if len(p) == 0 {
		return
	}
	b.ev.Size += int64(len(p))
	switch {
	case b.failed:
	case len(b.codings) == 0:
		b.keep(p)
	default:
		if b.decs == nil {
			b.start()
		}
		if b.decs[len(b.decs)-1].write(p) != nil || b.decodeFailed() {
			b.fail()
		}
	}
}

// start makes the decoders: the last coding applied is undone first, and
// each decoder passes its output to the one undoing the coding before.
func (b *body) start() {
	b.decs = make([]*inflater, len(b.codings))
	out := b.keep
	for i, c := range b.codings {
		z := newInflater(c, out)
		b.decs[i] = z
		out = func(p []byte) { _ = z.write(p) }
	}
}

// decodeFailed reports whether a decoder of the chain failed.
func (b *body) decodeFailed() bool {
	for _, z := range b.decs {
		if z.err != nil {
			return true
		}
	}
	return false
}

// fail marks decoding failed and releases the decoders.
func (b *body) fail() {
	b.failed = true
	for _, z := range b.decs {
		z.abort()
	}
	b.decs = nil
}

// keep takes decoded bytes: it counts them and keeps those within limit.
func (b *body) keep(p []byte) {
	b.ev.DecodedSize += int64(len(p))
	room := b.limit - len(b.ev.Data)
	if room < len(p) {
		b.ev.Truncated = true
		p = p[:max(room, 0)]
	}
	b.ev.Data = append(b.ev.Data, p...)
}

// end finishes the body: complete says all of it arrived, so that a
// coded body must decode to its end; a coded body cut short keeps what
// was decoded and is marked Truncated.
func (b *body) end(complete bool) {
	if b.decs == nil {
		return
	}
	if !complete {
		b.ev.Truncated = true
		for _, z := range b.decs {
			z.abort()
		}
		b.decs = nil
		return
	}
	for i := len(b.decs) - 1; i >= 0; i-- {
		if b.decs[i].close() != nil {
			b.failed = true
		}
	}
	b.decs = nil
}

// snapshot returns the body as known so far, for an event. Its Data is
// clipped so that later appends never share its array.
func (b *body) snapshot() event.Body {
	ev := b.ev
	ev.Data = slices.Clip(ev.Data)
	if b.failed && ev.Size > 0 {
		ev.DecodedSize, ev.Truncated = -1, true
	}
	return ev
}
