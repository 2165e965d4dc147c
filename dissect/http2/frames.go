package http2

import (
	"time"

	"github.com/htapod/htapod/event"
	"golang.org/x/net/http2"
)

// frame handles one frame that side s sent; at is when the frame began,
// t when it was complete. The Framer has checked the frame's layout and
// that CONTINUATION frames follow their HEADERS or PUSH_PROMISE.
// WINDOW_UPDATE, PING, PRIORITY and unknown frame types are ignored.
func (c *conn) frame(s *side, f http2.Frame, at, t time.Time) error {
	c.drained(t)
	switch f := f.(type) {
	case *http2.HeadersFrame:
		return c.headers(s, f, at, t)
	case *http2.ContinuationFrame:
		return c.headerFragment(s, f.HeaderBlockFragment(), f.HeadersEnded(), t)
	case *http2.PushPromiseFrame:
		return c.pushPromise(s, f, at, t)
	case *http2.DataFrame:
		c.data(s, f, t)
	case *http2.RSTStreamFrame:
		if st := c.streams[f.StreamID]; st != nil {
			why := "stream reset: " + f.ErrCode.String()
			if f.ErrCode == http2.ErrCodeNo && st.respEnded {
				// RFC 9113 section 8.1: a server that answered before
				// the request ended may reset it with NO_ERROR; the
				// exchange is complete.
				why = ""
				if s.dir == event.Down && !st.reqEnded && st.drainFrom.IsZero() {
					// The request's DATA that the client sent before it
					// saw the reset may still be on its way: wait for it.
					st.drainFrom = t
					c.draining++
					return nil
				}
			}
			c.finish(st, t, why)
		}
	case *http2.GoAwayFrame:
		// RFC 9113 section 6.8: streams of the GOAWAY's receiver above
		// the last stream ID were not and will not be processed.
		clientStreams := s.dir == event.Down
		why := "goaway: " + f.ErrCode.String()
		c.finishAll(t, why, func(st *stream) bool {
			id := st.ev.Seq
			return id > f.LastStreamID && (id%2 == 1) == clientStreams
		})
	case *http2.SettingsFrame:
		return c.settings(s, f)
	}
	return nil
}

// headers starts the header block of a HEADERS frame.
func (c *conn) headers(s *side, f *http2.HeadersFrame, at, t time.Time) error {
	id := f.StreamID
	kind := blockIgnore
	st := c.streams[id]
	if st != nil && st.upgraded && s.dir == event.Up && !st.respHead {
		// A client never sends HEADERS on the stream of an upgraded
		// request (it is half-closed); this is prior knowledge after
		// all, and stream 1 a request of its own.
		delete(c.streams, id)
		st = nil
		c.lastClient = 0
	}
	switch {
	case st != nil:
		kind = blockHead
	case s.dir == event.Down:
		// A response to a closed stream: decode it for the HPACK state.
	case id%2 == 0:
		// RFC 9113 section 5.1.1: "Streams initiated by a client MUST
		// use odd-numbered stream identifiers".
		return malformed("client HEADERS on even stream %d", id)
	case id > c.lastClient:
		if len(c.streams) >= maxOpenStreams {
			return tooLarge("more than %d open streams", maxOpenStreams)
		}
		kind = blockRequest
		c.lastClient = id
	}
	s.begin(kind, id, f.StreamEnded(), at)
	return c.headerFragment(s, f.HeaderBlockFragment(), f.HeadersEnded(), t)
}

// pushPromise starts the header block of a PUSH_PROMISE frame: the request
// of a pushed stream (RFC 9113 section 8.4), which has no body.
func (c *conn) pushPromise(s *side, f *http2.PushPromiseFrame, at, t time.Time) error {
	if s.dir == event.Up {
		// RFC 9113 section 8.4: "A client cannot push."
		return malformed("PUSH_PROMISE from the client on stream %d", f.StreamID)
	}
	id := f.PromiseID
	kind := blockIgnore
	if id%2 == 0 && id > c.lastServer {
		if len(c.streams) >= maxOpenStreams {
			return tooLarge("more than %d open streams", maxOpenStreams)
		}
		kind = blockPush
		c.lastServer = id
	}
	s.begin(kind, id, true, at)
	return c.headerFragment(s, f.HeaderBlockFragment(), f.HeadersEnded(), t)
}

// headerFragment decodes a fragment of s's header block and, at its end,
// applies the block to its stream.
func (c *conn) headerFragment(s *side, frag []byte, end bool, t time.Time) error {
	if err := s.fragment(frag, end); err != nil {
		return err
	}
	if !end {
		return nil
	}
	b := &s.blk
	switch b.kind {
	case blockRequest, blockPush:
		st := c.newStream(b.stream, b.start)
		st.request(b)
		c.emitPhase(st, event.PhaseRequest)
		if b.endStream {
			st.reqEnded = true
		}
	case blockHead:
		st := c.streams[b.stream]
		if st == nil {
			break // reset while the block was in flight
		}
		if s.dir == event.Up {
			st.ev.ReqTrailer = b.fields
			st.reqEnded = st.reqEnded || b.endStream
		} else if c.responseHead(st, b) {
			st.respEnded = st.respEnded || b.endStream
		}
	}
	if st := c.streams[b.stream]; st != nil && b.kind != blockIgnore && st.reqEnded && st.respEnded {
		c.finish(st, t, "")
	}
	*b = block{}
	return nil
}

// responseHead applies a block the server sent on st: an interim
// response, the response head, or trailers. It reports whether the block
// may end the response (interim responses may not).
func (c *conn) responseHead(st *stream, b *block) bool {
	if st.respHead {
		st.ev.RespTrailer = b.fields
		return true
	}
	status := statusOf(b.pseudo)
	if status >= 100 && status < 200 {
		st.ev.Interim = append(st.ev.Interim, status)
		return false
	}
	st.response(b, status)
	c.emitPhase(st, event.PhaseResponse)
	return true
}

// data counts a DATA frame into its stream's body. DATA on a stream whose
// side already ended it is ignored (RFC 9113 section 5.1: STREAM_CLOSED).
func (c *conn) data(s *side, f *http2.DataFrame, t time.Time) {
	st := c.streams[f.StreamID]
	if st == nil {
		return
	}
	ended, sink := &st.respEnded, st.resp
	if s.dir == event.Up {
		ended, sink = &st.reqEnded, st.req
	}
	if *ended {
		return
	}
	sink.Write(f.Data())
	if st.grpc != nil {
		msgs := &st.grpc.resp
		if s.dir == event.Up {
			msgs = &st.grpc.req
		}
		msgs.write(f.Data())
	}
	*ended = f.StreamEnded()
	if st.reqEnded && st.respEnded {
		c.finish(st, t, "")
	}
}

// settings applies what SETTINGS from s allow the other side to send.
func (c *conn) settings(s *side, f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	other := c.up
	if s.dir == event.Up {
		other = c.down
	}
	return f.ForeachSetting(func(v http2.Setting) error {
		if err := v.Valid(); err != nil {
			return malformed("%s SETTINGS %v: %v", s.dir, v, err)
		}
		switch v.ID {
		case http2.SettingHeaderTableSize:
			other.allowTable(v.Val)
		case http2.SettingMaxFrameSize:
			// Like allowTable, keep the largest: frames sent before the
			// SETTINGS arrived may still follow the old size.
			other.maxFrame = max(other.maxFrame, v.Val)
		}
		return nil
	})
}
