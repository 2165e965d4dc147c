package http1

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// maxCodings bounds how many content codings a body may stack; each one
// holds a decompressor's window.
const maxCodings = 3

// zstdMaxWindow is the largest window a zstd body may ask for: RFC 9659
// §3 "decoders MUST support [...] at least 8 MB" and encoders MUST NOT
// need more.
const zstdMaxWindow = 8 << 20

// errStopped ends a decoder's coroutine when its body is abandoned.
var errStopped = errors.New("decoder stopped")

// decoder decodes one content coding from bytes pushed to it in chunks of
// any size, with bounded memory.
//
// The decompressors of the standard library and of brotli and zstd pull
// their input through an io.Reader and cannot be resumed after a short
// read. So each runs as a coroutine (iter.Pull): its Reader yields back
// to the dissector when it has consumed every pushed byte, and resumes
// when more arrive. The coroutine never runs concurrently with the
// dissector, so the dissector stays free of goroutines in all but name.
type decoder struct {
	next    func() (struct{}, bool)
	stop    func()
	yield   func(struct{}) bool
	in      []byte // the bytes being pushed; only valid during write
	eof     bool   // no more input: the body ended
	stopped bool   // stop was called; the Reader must not yield again
	done    bool   // the coroutine returned
	err     error  // why decoding failed, or nil
}

// newDecoder returns a decoder of coding that passes decoded bytes to out.
// out is called from the coroutine, during write or close.
func newDecoder(coding string, out func([]byte)) *decoder {
	d := new(decoder)
	d.next, d.stop = iter.Pull(func(yield func(struct{}) bool) {
		d.yield = yield
		defer func() {
			// A decompressor's bug must not take the relay down.
			if r := recover(); r != nil {
				d.err = fmt.Errorf("decoder panicked: %v", r)
			}
		}()
		d.err = d.run(coding, out)
	})
	return d
}

// run decodes the whole input. It is the coroutine's body.
func (d *decoder) run(coding string, out func([]byte)) error {
	r, closer, err := openCoding(coding, (*decoderInput)(d))
	if err != nil {
		return err
	}
	if closer != nil {
		defer closer()
	}
	buf := make([]byte, 16<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			out(buf[:n])
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// write pushes p, which is only read during the call. Bytes after the
// end of the coded stream are ignored.
func (d *decoder) write(p []byte) {
	if d.done || len(p) == 0 {
		return
	}
	d.in = p
	if _, ok := d.next(); !ok {
		d.done = true
	}
	d.in = nil
}

// close ends the input, lets the decompressor finish and releases it. It
// returns why decoding failed, or nil.
func (d *decoder) close() error {
	if !d.done {
		d.eof = true
		for {
			if _, ok := d.next(); !ok {
				break
			}
		}
		d.done = true
	}
	d.stop()
	return d.err
}

// abort releases the decompressor without finishing it.
func (d *decoder) abort() {
	d.stopped = true
	d.stop()
	d.done = true
}

// decoderInput is the Reader a decoder's decompressor pulls from.
type decoderInput decoder

// Read implements io.Reader: it yields to the dissector until bytes are
// pushed or the input ends.
func (in *decoderInput) Read(p []byte) (int, error) {
	for len(in.in) == 0 {
		switch {
		case in.eof:
			return 0, io.EOF
		case in.stopped:
			return 0, errStopped
		case !in.yield(struct{}{}):
			in.stopped = true
			return 0, errStopped
		}
	}
	n := copy(p, in.in)
	in.in = in.in[n:]
	return n, nil
}

// openCoding returns a reader decoding coding from src, and a function
// that releases it (or nil).
func openCoding(coding string, src io.Reader) (io.Reader, func(), error) {
	switch coding {
	case "gzip", "x-gzip":
		r, err := gzip.NewReader(src)
		return r, nil, err
	case "deflate":
		// RFC 9110 §8.4.1.2: "deflate" is zlib (RFC 1950), but some
		// servers send raw deflate (RFC 1951): tell by the zlib header
		// (CMF with method 8, and CMF<<8|FLG a multiple of 31).
		br := bufio.NewReader(src)
		h, err := br.Peek(2)
		if err != nil {
			return nil, nil, err
		}
		if h[0]&0x0f == 8 && (uint16(h[0])<<8|uint16(h[1]))%31 == 0 {
			r, err := zlib.NewReader(br)
			return r, nil, err
		}
		return flate.NewReader(br), nil, nil
	case "br":
		return brotli.NewReader(src), nil, nil
	case "zstd":
		// Concurrency 1 keeps zstd from starting goroutines of its own.
		z, err := zstd.NewReader(src, zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return nil, nil, err
		}
		return z, z.Close, nil
	}
	return nil, nil, fmt.Errorf("unsupported content coding %q", coding)
}

// supported says openCoding knows coding.
func supported(coding string) bool {
	switch coding {
	case "gzip", "x-gzip", "deflate", "br", "zstd":
		return true
	}
	return false
}

// codings parses a Content-Encoding value into the codings to undo, in
// the order they were applied; identity is dropped. ok is false when a
// coding is unknown or there are too many.
func codings(values []string) (cs []string, ok bool) {
	for _, v := range values {
		v = strings.ToLower(v)
		if v == "identity" {
			continue
		}
		if !supported(v) || len(cs) == maxCodings {
			return nil, false
		}
		cs = append(cs, v)
	}
	return cs, true
}
