package http2

import (
	"bytes"
	"testing"

	"github.com/htapod/htapod/event"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// chunk is bytes one side sent, in the order a tap relayed them.
type chunk struct {
	dir event.Direction
	b   []byte
}

// conv builds the wire bytes of a conversation: a client and a server,
// each with its own Framer and HPACK encoder, write frames in turn. Each
// frame is one chunk.
type conv struct {
	tb             testing.TB
	chunks         []chunk
	client, server *peer
}

// peer is one endpoint of a conv.
type peer struct {
	c    *conv
	dir  event.Direction
	out  bytes.Buffer
	fr   *http2.Framer
	hbuf bytes.Buffer
	enc  *hpack.Encoder
}

// newConv returns an empty conversation; with preface set, the client
// starts with the connection preface.
func newConv(tb testing.TB, preface bool) *conv {
	tb.Helper()
	c := &conv{tb: tb}
	c.client = newPeer(c, event.Up)
	c.server = newPeer(c, event.Down)
	if preface {
		c.client.raw([]byte(ClientPreface))
	}
	return c
}

func newPeer(c *conv, dir event.Direction) *peer {
	p := &peer{c: c, dir: dir}
	p.fr = http2.NewFramer(&p.out, nil)
	p.fr.AllowIllegalWrites = true // the error tests write what peers must not
	p.enc = hpack.NewEncoder(&p.hbuf)
	return p
}

// flush moves what the peer wrote into the next chunk.
func (p *peer) flush(err error) {
	p.c.tb.Helper()
	if err != nil {
		p.c.tb.Fatalf("write %s frame: %v", p.dir, err)
	}
	p.c.chunks = append(p.c.chunks, chunk{p.dir, bytes.Clone(p.out.Bytes())})
	p.out.Reset()
}

// raw sends b as it is.
func (p *peer) raw(b []byte) {
	p.out.Write(b)
	p.flush(nil)
}

// block encodes header fields given as name, value, name, value, …
func (p *peer) block(kv ...string) []byte {
	p.c.tb.Helper()
	if len(kv)%2 != 0 {
		p.c.tb.Fatalf("odd number of header strings: %q", kv)
	}
	p.hbuf.Reset()
	for i := 0; i < len(kv); i += 2 {
		if err := p.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]}); err != nil {
			p.c.tb.Fatal(err)
		}
	}
	return bytes.Clone(p.hbuf.Bytes())
}

// headers sends a HEADERS frame with a whole header block.
func (p *peer) headers(id uint32, end bool, kv ...string) {
	p.flush(p.fr.WriteHeaders(http2.HeadersFrameParam{
		StreamID: id, BlockFragment: p.block(kv...), EndStream: end, EndHeaders: true,
	}))
}

// headersSplit sends a header block as a HEADERS frame, padded with pad
// bytes, and CONTINUATION frames: n fragments in all.
func (p *peer) headersSplit(id uint32, end bool, pad uint8, n int, kv ...string) {
	blk := p.block(kv...)
	step := (len(blk) + n - 1) / n
	first := blk[:min(step, len(blk))]
	blk = blk[len(first):]
	p.flush(p.fr.WriteHeaders(http2.HeadersFrameParam{
		StreamID: id, BlockFragment: first, EndStream: end, EndHeaders: len(blk) == 0, PadLength: pad,
	}))
	for len(blk) > 0 {
		frag := blk[:min(step, len(blk))]
		blk = blk[len(frag):]
		p.flush(p.fr.WriteContinuation(id, len(blk) == 0, frag))
	}
}

// data sends a DATA frame.
func (p *peer) data(id uint32, end bool, b []byte) {
	p.flush(p.fr.WriteData(id, end, b))
}

// dataPadded sends a DATA frame with pad bytes of padding.
func (p *peer) dataPadded(id uint32, end bool, b []byte, pad int) {
	p.flush(p.fr.WriteDataPadded(id, end, b, make([]byte, pad)))
}

// settings sends a SETTINGS frame.
func (p *peer) settings(s ...http2.Setting) { p.flush(p.fr.WriteSettings(s...)) }

// ack sends a SETTINGS frame with ACK.
func (p *peer) ack() { p.flush(p.fr.WriteSettingsAck()) }

// rst sends RST_STREAM.
func (p *peer) rst(id uint32, code http2.ErrCode) { p.flush(p.fr.WriteRSTStream(id, code)) }

// goAway sends GOAWAY.
func (p *peer) goAway(last uint32, code http2.ErrCode) {
	p.flush(p.fr.WriteGoAway(last, code, []byte("bye")))
}

// push sends PUSH_PROMISE on stream id for stream promised.
func (p *peer) push(id, promised uint32, kv ...string) {
	p.flush(p.fr.WritePushPromise(http2.PushPromiseParam{
		StreamID: id, PromiseID: promised, BlockFragment: p.block(kv...), EndHeaders: true,
	}))
}

// chatter sends the frames that carry no exchange: PING, WINDOW_UPDATE,
// PRIORITY and a frame of an unknown type.
func (p *peer) chatter() {
	p.flush(p.fr.WritePing(false, [8]byte{1, 2, 3}))
	p.flush(p.fr.WriteWindowUpdate(0, 1<<20))
	p.flush(p.fr.WritePriority(1, http2.PriorityParam{StreamDep: 0, Weight: 15}))
	p.flush(p.fr.WriteRawFrame(0xfa, 0, 0, []byte("extension")))
}

// open sends the client's and the server's SETTINGS and their ACKs.
func (c *conv) open() {
	c.client.settings(http2.Setting{ID: http2.SettingEnablePush, Val: 1},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
	c.server.settings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 250})
	c.server.ack()
	c.client.ack()
}

// get sends a GET request without body on stream id.
func (c *conv) get(id uint32, path string, extra ...string) {
	kv := append([]string{":method", "GET", ":scheme", "https", ":authority", "example.com", ":path", path}, extra...)
	c.client.headers(id, true, kv...)
}

// grpcMsg frames msg as a gRPC Length-Prefixed-Message.
func grpcMsg(msg string) []byte {
	n := len(msg)
	return append([]byte{0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, msg...)
}
