package http2

import (
	"bytes"
	"errors"
	"time"

	"github.com/htapod/htapod/event"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Defaults of the settings that bound what a side may send (RFC 9113
// section 6.5.2).
const (
	defaultMaxFrameSize   = 16384
	defaultHeaderTableLen = 4096
	frameHeaderLen        = 9
	maxFrameSize          = 1<<24 - 1
)

// side reads the frames one endpoint sends: Up is the client's, Down the
// server's. It owns that direction's Framer and HPACK decoder.
type side struct {
	c   *conn
	dir event.Direction

	// buf holds the bytes of an incomplete frame; bufAt is when its
	// first byte arrived.
	buf   []byte
	bufAt time.Time
	rd    bytes.Reader
	fr    *http2.Framer
	// maxFrame is the largest frame the receiving endpoint allowed with
	// SETTINGS_MAX_FRAME_SIZE.
	maxFrame uint32

	dec *hpack.Decoder
	// table is the largest HPACK dynamic table the receiver allowed.
	table uint32
	blk   block
}

// blockKind says what a header block is for.
type blockKind int

const (
	// blockIgnore: the block belongs to a closed or unknown stream; it is
	// decoded only to keep the HPACK state.
	blockIgnore blockKind = iota
	// blockRequest opens a stream; blockPush is a PUSH_PROMISE's request.
	blockRequest
	blockPush
	// blockHead is a response head (interim or final) or trailers of
	// either side, told apart when it is complete.
	blockHead
)

// block is the header block being decoded: a HEADERS or PUSH_PROMISE
// frame and the CONTINUATION frames after it.
type block struct {
	kind blockKind
	// stream is the stream the fields are for (the promised stream of a
	// PUSH_PROMISE).
	stream    uint32
	endStream bool
	start     time.Time
	fields    []event.Header
	pseudo    []event.Header
	// size is the header list size (RFC 9113 section 6.5.2: name and
	// value lengths plus 32 per field); over is set beyond the limit.
	size int
	over bool
}

func newSide(c *conn, dir event.Direction) *side {
	s := &side{c: c, dir: dir, maxFrame: defaultMaxFrameSize, table: defaultHeaderTableLen}
	s.fr = http2.NewFramer(nil, &s.rd)
	s.fr.SetMaxReadFrameSize(maxFrameSize) // side.feed checks the advertised size
	s.dec = hpack.NewDecoder(defaultHeaderTableLen, s.field)
	s.dec.SetMaxStringLength(c.opts.MaxHeaderBytes)
	return s
}

// field receives one decoded header field of the current block.
func (s *side) field(f hpack.HeaderField) {
	b := &s.blk
	if b.over {
		return
	}
	b.size += int(f.Size())
	if b.size > s.c.opts.MaxHeaderBytes {
		b.over = true
		b.fields, b.pseudo = nil, nil
		return
	}
	h := event.Header{Name: f.Name, Value: f.Value}
	if f.IsPseudo() {
		b.pseudo = append(b.pseudo, h)
	} else {
		b.fields = append(b.fields, h)
	}
}

// feed takes the next bytes of this direction, relayed at t, and handles
// every frame they complete.
func (s *side) feed(b []byte, t time.Time) error {
	p := b
	if len(s.buf) > 0 {
		s.buf = append(s.buf, b...)
		p = s.buf
	} else {
		s.bufAt = t
	}
	for len(p) >= frameHeaderLen {
		n := uint32(p[0])<<16 | uint32(p[1])<<8 | uint32(p[2])
		if n > s.maxFrame {
			// RFC 9113 section 4.2: "An endpoint MUST send an error code
			// of FRAME_SIZE_ERROR if a frame exceeds the size defined in
			// SETTINGS_MAX_FRAME_SIZE".
			return malformed("%s frame of %d bytes exceeds SETTINGS_MAX_FRAME_SIZE %d",
				http2.FrameType(p[3]), n, s.maxFrame)
		}
		if len(p) < frameHeaderLen+int(n) {
			break
		}
		at := s.bufAt
		s.rd.Reset(p[:frameHeaderLen+n])
		f, err := s.fr.ReadFrame()
		if err != nil {
			return s.frameError(err)
		}
		if err := s.c.frame(s, f, at, t); err != nil {
			return err
		}
		p = p[frameHeaderLen+n:]
		s.bufAt = t
	}
	switch {
	case len(p) == 0 && cap(s.buf) > 4*defaultMaxFrameSize:
		s.buf = nil // release a buffer grown for a large frame
	default:
		s.buf = append(s.buf[:0], p...)
	}
	return nil
}

// frameError wraps an error of the Framer with its detail.
func (s *side) frameError(err error) error {
	var ce http2.ConnectionError
	if errors.As(err, &ce) {
		if d := s.fr.ErrorDetail(); d != nil {
			return malformed("%s frame: %v: %v", s.dir, err, d)
		}
	}
	return malformed("%s frame: %v", s.dir, err)
}

// begin starts decoding a header block that the first frame, at time at,
// opens.
func (s *side) begin(kind blockKind, stream uint32, endStream bool, at time.Time) {
	s.blk = block{kind: kind, stream: stream, endStream: endStream, start: at}
	s.dec.SetEmitEnabled(kind != blockIgnore)
}

// fragment decodes the next fragment of the current header block; end
// says it is the last.
func (s *side) fragment(frag []byte, end bool) error {
	if _, err := s.dec.Write(frag); err != nil {
		return s.hpackError(err)
	}
	if s.blk.over {
		return tooLarge("%s header list exceeds %d bytes", s.dir, s.c.opts.MaxHeaderBytes)
	}
	if end {
		if err := s.dec.Close(); err != nil {
			return s.hpackError(err)
		}
	}
	return nil
}

func (s *side) hpackError(err error) error {
	if errors.Is(err, hpack.ErrStringLength) {
		return tooLarge("%s header field exceeds %d bytes", s.dir, s.c.opts.MaxHeaderBytes)
	}
	return malformed("%s header block: %v", s.dir, err)
}

// allowTable raises the dynamic table size this side's encoder may use.
// It follows the largest size ever allowed rather than the latest: the
// encoder may still use the old size until it sees the new SETTINGS.
func (s *side) allowTable(v uint32) {
	v = min(v, maxTableSize)
	if v > s.table {
		s.table = v
		s.dec.SetAllowedMaxDynamicTableSize(v)
	}
}
