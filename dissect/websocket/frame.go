package websocket

import (
	"encoding/binary"
	"time"

	"github.com/htapod/htapod/event"
)

// maxControl is the largest control frame payload: RFC 6455 §5.5, "All
// control frames MUST have a payload length of 125 bytes or less".
const maxControl = 125

// parser reads the frames of one direction.
type parser struct {
	s   *stream
	dir event.Direction

	hdr  [14]byte // the frame header being read
	nhdr int      // bytes of hdr read so far

	inPayload bool
	fin       bool
	op        byte
	rsv1      bool
	masked    bool
	mask      [4]byte
	remain    int64 // payload bytes left in the frame
	pos       int64 // payload bytes read, for the masking key's phase

	msg message // the data message being reassembled
	ctl message // the control frame being read

	inf *inflater // permessage-deflate decoder, from the first compressed message
}

// message is a data message or control frame being read.
type message struct {
	active     bool
	op         byte
	size       int64
	data       []byte
	truncated  bool
	compressed bool
}

// feed parses b, which is only read during the call.
func (p *parser) feed(b []byte, t time.Time) error {
	for len(b) > 0 {
		if !p.inPayload {
			n, err := p.header(b)
			b = b[n:]
			if err != nil {
				return err
			}
			if p.inPayload && p.remain == 0 {
				if err := p.endFrame(t); err != nil {
					return err
				}
			}
			continue
		}
		k := int(min(int64(len(b)), p.remain))
		p.payload(b[:k])
		b = b[k:]
		if p.remain -= int64(k); p.remain == 0 {
			if err := p.endFrame(t); err != nil {
				return err
			}
		}
	}
	return nil
}

// header reads frame header bytes from b; once the header is whole it
// checks it and starts the payload. It returns how many bytes it used.
func (p *parser) header(b []byte) (int, error) {
	need := 2
	if p.nhdr >= 2 {
		need = headerLen(p.hdr[0], p.hdr[1])
	}
	n := 0
	for p.nhdr < need && n < len(b) {
		p.hdr[p.nhdr] = b[n]
		p.nhdr++
		n++
		if p.nhdr == 2 {
			need = headerLen(p.hdr[0], p.hdr[1])
		}
	}
	if p.nhdr < need {
		return n, nil
	}
	p.nhdr = 0
	return n, p.start(p.hdr[:need])
}

// headerLen is the length of the frame header that starts with b0 b1.
func headerLen(b0, b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// start checks a whole frame header (RFC 6455 §5.2) and starts its payload.
func (p *parser) start(h []byte) error {
	p.fin, p.rsv1, p.op = h[0]&0x80 != 0, h[0]&0x40 != 0, h[0]&0x0f
	p.masked = h[1]&0x80 != 0
	length, rest := int64(h[1]&0x7f), h[2:]
	switch length {
	case 126:
		length, rest = int64(binary.BigEndian.Uint16(rest)), rest[2:]
	case 127:
		v := binary.BigEndian.Uint64(rest)
		// "the most significant bit MUST be 0"
		if v>>63 != 0 {
			return malformed("frame length %#x", v)
		}
		length, rest = int64(v), rest[8:]
	}
	copy(p.mask[:], rest)
	if h[0]&0x30 != 0 {
		return malformed("RSV2/RSV3 set without an extension")
	}
	// §5.1: "a client MUST mask all frames that it sends to the server";
	// "A server MUST NOT mask any frames that it sends to the client".
	if p.masked != (p.dir == event.Up) {
		return malformed("frame from the %s masked=%v", side(p.dir), p.masked)
	}
	switch {
	case isControl(p.op):
		if _, ok := opcodeNames[p.op]; !ok {
			return malformed("reserved opcode %#x", p.op)
		}
		if !p.fin || length > maxControl || p.rsv1 {
			return malformed("control frame %#x fragmented, compressed or over 125 bytes", p.op)
		}
		p.ctl = message{active: true, op: p.op}
	case p.op == opContinuation:
		if !p.msg.active {
			return malformed("continuation frame outside a message")
		}
		// RFC 7692 §6.1: RSV1 is set on the first frame only.
		if p.rsv1 {
			return malformed("RSV1 on a continuation frame")
		}
	case p.op == opText || p.op == opBinary:
		if p.msg.active {
			return malformed("new message before the end of a fragmented one")
		}
		p.msg = message{active: true, op: p.op, compressed: p.rsv1}
	default:
		return malformed("reserved opcode %#x", p.op)
	}
	p.inPayload, p.remain, p.pos = true, length, 0
	return nil
}

// side names who sends in dir.
func side(dir event.Direction) string {
	if dir == event.Up {
		return "client"
	}
	return "server"
}

// payload takes payload bytes of the current frame.
func (p *parser) payload(b []byte) {
	m := &p.msg
	limit := p.s.opts.BodyLimit
	if isControl(p.op) {
		m, limit = &p.ctl, maxControl
	}
	m.size += int64(len(b))
	if m.compressed && !isControl(p.op) {
		p.inflate().add(p.unmask(b, nil))
		p.pos += int64(len(b))
		return
	}
	keep := b
	if room := limit - len(m.data); len(keep) > room {
		keep, m.truncated = keep[:room], true
	}
	m.data = p.unmask(keep, m.data)
	p.pos += int64(len(b))
}

// unmask appends b to dst, unmasked (RFC 6455 §5.3) from the current
// payload position.
func (p *parser) unmask(b, dst []byte) []byte {
	start := len(dst)
	dst = append(dst, b...)
	if p.masked {
		for i := range b {
			dst[start+i] ^= p.mask[(p.pos+int64(i))&3]
		}
	}
	return dst
}

// inflate returns the direction's permessage-deflate decoder, made at the
// first compressed message.
func (p *parser) inflate() *inflater {
	if p.inf == nil {
		p.inf = &inflater{reset: p.s.deflate.noTakeover(p.dir)}
	}
	return p.inf
}

// endFrame ends the current frame, emitting the message it completes.
func (p *parser) endFrame(t time.Time) error {
	p.inPayload = false
	if isControl(p.op) {
		return p.emitControl(t)
	}
	if p.fin {
		m := p.msg
		p.msg = message{}
		ev := &event.WebSocket{
			FlowID: p.s.meta.FlowID, Time: t, Server: p.s.meta.Dst, Host: p.s.meta.Name, TLS: p.s.meta.TLS, Dir: p.dir, Opcode: opcodeNames[m.op],
			Size: m.size, Data: m.data, Truncated: m.truncated,
		}
		if m.compressed {
			ev.Compressed, ev.CompressedSize = true, m.size
			if in := p.inflate().message(p.s.opts.BodyLimit); in.err != nil {
				ev.Err = in.err.Error()
			} else {
				ev.Size, ev.Data, ev.Truncated = in.size, in.data, in.truncated
			}
		}
		if len(ev.Data) == 0 {
			ev.Data = nil
		}
		p.s.emit(ev)
	}
	return nil
}

// emitControl emits the control frame just read.
func (p *parser) emitControl(t time.Time) error {
	m := p.ctl
	p.ctl = message{}
	ev := &event.WebSocket{
		FlowID: p.s.meta.FlowID, Time: t, Server: p.s.meta.Dst, Host: p.s.meta.Name, TLS: p.s.meta.TLS, Dir: p.dir, Opcode: opcodeNames[m.op], Size: m.size,
	}
	if m.op == opClose {
		// RFC 6455 §5.5.1: a close body starts with a 2-byte status code
		// followed by a UTF-8 reason.
		switch len(m.data) {
		case 0:
			ev.CloseCode = noStatus
		case 1:
			return malformed("close frame with a 1-byte body")
		default:
			ev.CloseCode = int(binary.BigEndian.Uint16(m.data))
			ev.CloseReason = string(m.data[2:])
		}
	}
	limit := p.s.opts.BodyLimit
	if len(m.data) > limit {
		m.data, ev.Truncated = m.data[:limit], true
	}
	if len(m.data) > 0 {
		ev.Data = m.data
	}
	p.s.emit(ev)
	return nil
}
