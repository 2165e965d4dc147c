package body

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"iter"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// zstdMaxWindow is the largest zstd window decoded: RFC 9659 section 3,
// "decoders MUST support [...] at least 8 MB" and encoders of HTTP content
// MUST NOT need more.
const zstdMaxWindow = 8 << 20

// maxIdleReads is how many reads in a row may return neither bytes nor an
// error before a decompressor is taken to be stuck (io.ErrNoProgress).
const maxIdleReads = 100

// errStopped is what a decompressor reads once its body was abandoned.
var errStopped = errors.New("decoder stopped")

// opener returns a decompressor reading its coded input from src.
type opener func(src io.Reader) (io.ReadCloser, error)

// decoder undoes one content coding of bytes pushed to it in pieces of
// any size, with bounded memory.
//
// The decompressors of the standard library and of the brotli and zstd
// modules pull their input through an io.Reader and keep its first
// error, so they cannot be fed bytes as they come. A decoder runs its
// decompressor as a coroutine (iter.Pull): write lends it the bytes and
// resumes it until it has read them all, and the coroutine yields each
// piece it decodes back to write, which passes it to out. The coroutine
// never runs at the same time as its caller, so a dissector stays
// single-threaded and deterministic. A decoder holds the decompressor's
// window (32 KiB for gzip and deflate, up to 16 MiB for br and 8 MiB for
// zstd) and a 16 KiB output buffer.
type decoder struct {
	name string
	open opener
	// in is the input the decompressor has not read yet, lent by write;
	// eof says no more will come.
	in  []byte
	eof bool
	// err is why decoding failed, or nil; done says the coroutine
	// returned.
	err  error
	done bool
	next func() ([]byte, bool)
	stop func()
	// out receives the decoded bytes, valid during the call. It is called
	// from write and close, outside the coroutine.
	out func([]byte)
}

// newDecoder returns a decoder of coding ("gzip", "deflate", "br" or
// "zstd") that passes what it decodes to out. The caller must end it with
// close or abort.
func newDecoder(coding string, out func([]byte)) *decoder {
	return newDecoderOf(coding, func(src io.Reader) (io.ReadCloser, error) {
		return openCoding(coding, src)
	}, out)
}

// newDecoderOf returns a decoder that runs the decompressor open returns;
// name says which it is in errors. Tests pass their own open.
func newDecoderOf(name string, open opener, out func([]byte)) *decoder {
	d := &decoder{name: name, open: open, out: out}
	d.next, d.stop = iter.Pull(d.run)
	return d
}

// write decodes p, which is only read during the call, and returns why
// decoding failed, if it did. Input after the decompressor returned is
// ignored.
func (d *decoder) write(p []byte) error {
	if d.done || len(p) == 0 {
		return d.err
	}
	d.in = p
	d.pump()
	d.in = nil
	return d.err
}

// close says the input is complete, lets the decompressor finish and
// releases it. It returns why decoding failed, or nil: coded data cut
// short is an error.
func (d *decoder) close() error {
	if !d.done {
		d.eof = true
		d.pump()
	}
	d.abort()
	return d.err
}

// abort releases the decompressor without finishing it. It may be called
// more than once.
func (d *decoder) abort() {
	d.stop()
	d.done = true
}

// pump resumes the decompressor until it wants more input or returns.
func (d *decoder) pump() {
	for {
		b, ok := d.next()
		if !ok {
			d.done = true
			return
		}
		if b == nil {
			return
		}
		d.out(b)
	}
}

// run is the coroutine's body: it yields decoded bytes, or nil when the
// decompressor needs more input.
func (d *decoder) run(yield func([]byte) bool) {
	defer func() {
		// The decompressors are not expected to panic; if one does on
		// hostile input, the body fails to decode, nothing more.
		if r := recover(); r != nil {
			d.err = fmt.Errorf("%s decoder panicked: %v", d.name, r)
		}
	}()
	r, err := d.open(&input{d: d, yield: yield})
	if err != nil {
		d.err = fmt.Errorf("open %s decoder: %w", d.name, err)
		return
	}
	defer r.Close()
	buf := make([]byte, 16<<10)
	for idle := 0; idle < maxIdleReads; {
		n, err := r.Read(buf)
		if n > 0 {
			idle = 0
			if !yield(buf[:n]) {
				return
			}
		} else {
			idle++
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			d.err = fmt.Errorf("decode %s: %w", d.name, err)
			return
		}
	}
	d.err = fmt.Errorf("decode %s: %w", d.name, io.ErrNoProgress)
}

// input is the io.Reader a decompressor pulls from: it reads what write
// lent and yields nil to wait for more.
type input struct {
	d     *decoder
	yield func([]byte) bool
}

// Read implements io.Reader. It returns io.EOF once the input is complete
// and errStopped once the decoder was aborted.
func (in *input) Read(p []byte) (int, error) {
	for len(in.d.in) == 0 {
		if in.d.eof {
			return 0, io.EOF
		}
		if !in.yield(nil) {
			return 0, errStopped
		}
	}
	n := copy(p, in.d.in)
	in.d.in = in.d.in[n:]
	return n, nil
}

// openCoding returns the decompressor of coding reading src.
func openCoding(coding string, src io.Reader) (io.ReadCloser, error) {
	switch coding {
	case "gzip":
		return gzip.NewReader(src)
	case "deflate":
		// RFC 9110 section 8.4.1.2: "deflate" is a zlib stream (RFC
		// 1950), but some servers send raw deflate (RFC 1951); a zlib
		// header tells them apart.
		br := bufio.NewReader(src)
		h, err := br.Peek(2)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return nil, err
		}
		if isZlibHeader(h[0], h[1]) {
			return zlib.NewReader(br)
		}
		return flate.NewReader(br), nil
	case "br":
		return brotliReader{brotli.NewReader(src)}, nil
	case "zstd":
		z, err := zstd.NewReader(src,
			zstd.WithDecoderConcurrency(1), // decode in Read, no goroutines
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return nil, err
		}
		return z.IOReadCloser(), nil
	}
	return nil, fmt.Errorf("unknown content coding %q", coding)
}

// brotliReader is a brotli.Reader that ends at the end of the brotli
// stream.
//
// brotli.Reader fails with "excessive input" when the stream ends before
// the bytes it read do, and also when the stream's last bytes came in
// reads so short that it had to gather them in its own buffer: a body
// decoded fine or not depending on how TCP or HTTP/2 framing cut it. Both
// mean the stream is complete, and input after the end of the coded data
// is ignored, as with the other codings.
type brotliReader struct{ r *brotli.Reader }

// errBrotliExcess is the text of the brotli module's unexported error.
const errBrotliExcess = "brotli: excessive input"

// Read implements io.Reader.
func (b brotliReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err.Error() == errBrotliExcess {
		err = io.EOF
	}
	return n, err
}

// Close implements io.Closer; a brotli.Reader holds nothing to release.
func (brotliReader) Close() error { return nil }

// isZlibHeader reports whether two bytes start a zlib stream (RFC 1950
// section 2.2): CM 8 (deflate), CINFO at most 7 ("CINFO values above 7
// are not allowed") and FCHECK making CMF*256+FLG a multiple of 31.
func isZlibHeader(cmf, flg byte) bool {
	return cmf&0x0f == 8 && cmf>>4 <= 7 && (uint16(cmf)<<8|uint16(flg))%31 == 0
}
