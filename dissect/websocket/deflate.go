package websocket

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/htapod/htapod/event"
)

// Limits of permessage-deflate decoding, each with its reason.
const (
	// maxCompressed bounds the compressed payload of one message held for
	// inflating: a message is inflated whole at its end. Beyond it the
	// message is counted only, and with context takeover the direction is
	// no longer decoded (its window is lost).
	maxCompressed = 8 << 20
	// maxInflated bounds what one message may inflate to (1032:1 is
	// deflate's best ratio): past it the sender is a bomb, not a peer.
	maxInflated = 256 << 20
	// windowSize is deflate's largest LZ77 window: RFC 7692 §7.1.2,
	// max_window_bits is at most 15. A smaller negotiated window only
	// shortens the distances the sender uses, so the last 32 KiB of output
	// always suffice as the dictionary.
	windowSize = 32 << 10
)

// deflateTail ends a message for compress/flate: RFC 7692 §7.2.2, "Append
// 4 octets of 0x00 0x00 0xff 0xff to the tail end of the payload of the
// message", then an empty final stored block so that the reader ends with
// io.EOF rather than waiting for a block that never comes.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// Deflate is what the opening handshake agreed about permessage-deflate
// (RFC 7692 §7.1), from the server's Sec-WebSocket-Extensions field.
type Deflate struct {
	// Enabled says the server accepted permessage-deflate.
	Enabled bool
	// ServerNoContextTakeover and ClientNoContextTakeover say the server
	// (client) resets its compressor after each message; otherwise the
	// LZ77 window is kept across messages ("context takeover").
	ServerNoContextTakeover, ClientNoContextTakeover bool
	// ServerMaxWindowBits and ClientMaxWindowBits are the window sizes
	// agreed (8–15), 0 when not given (15).
	ServerMaxWindowBits, ClientMaxWindowBits int
}

// ParseExtensions reads the permessage-deflate parameters from the values
// of the server's Sec-WebSocket-Extensions fields in the 101 response
// (RFC 6455 §9.1: a comma-separated list of extensions, each with
// ";"-separated parameters). Other extensions are ignored.
func ParseExtensions(values []string) Deflate {
	var d Deflate
	for _, v := range values {
		for _, ext := range strings.Split(v, ",") {
			params := strings.Split(ext, ";")
			if !strings.EqualFold(strings.TrimSpace(params[0]), "permessage-deflate") || d.Enabled {
				continue
			}
			d.Enabled = true
			for _, p := range params[1:] {
				name, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				val = strings.Trim(strings.TrimSpace(val), `"`)
				var bits int
				fmt.Sscanf(val, "%d", &bits)
				switch strings.ToLower(strings.TrimSpace(name)) {
				case "server_no_context_takeover":
					d.ServerNoContextTakeover = true
				case "client_no_context_takeover":
					d.ClientNoContextTakeover = true
				case "server_max_window_bits":
					d.ServerMaxWindowBits = bits
				case "client_max_window_bits":
					d.ClientMaxWindowBits = bits
				}
			}
		}
	}
	return d
}

// noTakeover says the sender in dir resets its compressor per message.
func (d Deflate) noTakeover(dir event.Direction) bool {
	if dir == event.Up {
		return d.ClientNoContextTakeover
	}
	return d.ServerNoContextTakeover
}

// inflater decodes the compressed messages of one direction. The flate
// stream is kept across messages as the sender keeps it: the last 32 KiB
// of output are the next message's dictionary.
type inflater struct {
	reset  bool   // the sender resets its window per message
	window []byte // the last windowSize bytes inflated, with context takeover
	buf    []byte // the compressed payload of the message being read
	over   bool   // buf passed maxCompressed
	err    error  // why this direction is no longer decoded
	fr     io.ReadCloser
	chunk  []byte
}

// add takes unmasked compressed payload bytes of the current message.
func (f *inflater) add(b []byte) {
	if f.over || f.err != nil {
		return
	}
	if len(f.buf)+len(b) > maxCompressed {
		f.over, f.buf = true, nil
		return
	}
	f.buf = append(f.buf, b...)
}

// inflated is one decoded message.
type inflated struct {
	data      []byte // the first limit bytes
	size      int64  // all bytes inflated
	truncated bool
	err       error // why the message was not decoded
}

// message inflates the message whose payload add took, keeping at most
// limit bytes of it, and readies the inflater for the next one.
func (f *inflater) message(limit int) inflated {
	in, over := f.buf, f.over
	f.buf, f.over = f.buf[:0], false
	if f.err != nil {
		return inflated{err: f.err}
	}
	if over {
		err := fmt.Errorf("compressed message over %d MiB: not inflated", maxCompressed>>20)
		if !f.reset {
			f.err = fmt.Errorf("not inflated since a compressed message over %d MiB", maxCompressed>>20)
		}
		return inflated{err: err}
	}
	var dict []byte
	if !f.reset {
		dict = f.window
	}
	src := io.MultiReader(bytes.NewReader(in), bytes.NewReader(deflateTail))
	if f.fr == nil {
		f.fr, f.chunk = flate.NewReaderDict(src, dict), make([]byte, 32<<10)
	} else if err := f.fr.(flate.Resetter).Reset(src, dict); err != nil {
		f.err = fmt.Errorf("inflate: %w", err)
		return inflated{err: f.err}
	}
	var m inflated
	for {
		n, err := f.fr.Read(f.chunk)
		m.add(f.chunk[:n], limit)
		if !f.reset {
			f.keep(f.chunk[:n])
		}
		if errors.Is(err, io.EOF) {
			return m
		}
		if err == nil && m.size > maxInflated {
			err = fmt.Errorf("message inflates past %d MiB", maxInflated>>20)
		}
		if err != nil {
			// The window no longer matches the sender's: nothing later in
			// this direction can be decoded.
			f.err = fmt.Errorf("inflate: %w", err)
			return inflated{err: f.err}
		}
	}
}

// add appends out to the message, within limit.
func (m *inflated) add(out []byte, limit int) {
	m.size += int64(len(out))
	keep := out
	if room := limit - len(m.data); len(keep) > room {
		keep, m.truncated = keep[:max(room, 0)], true
	}
	m.data = append(m.data, keep...)
}

// keep slides the window over out.
func (f *inflater) keep(out []byte) {
	if len(out) >= windowSize {
		f.window = append(f.window[:0], out[len(out)-windowSize:]...)
		return
	}
	if drop := len(f.window) + len(out) - windowSize; drop > 0 {
		f.window = append(f.window[:0], f.window[drop:]...)
	}
	f.window = append(f.window, out...)
}
