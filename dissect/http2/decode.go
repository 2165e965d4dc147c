package http2

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

// zstdMaxWindow is the largest zstd window decoded: RFC 9659 section 3
// says HTTP recipients need not support windows above 8 MB.
const zstdMaxWindow = 8 << 20

// inflater decodes a content-coded body that is pushed to it piece by
// piece as DATA frames arrive.
//
// The decoders of the standard library and of the compression modules
// pull their input from an io.Reader and keep its first error, so they
// cannot be fed bytes as they come. An inflater runs its decoder as a
// coroutine (iter.Pull): write lends it the bytes and resumes it until it
// has read them all. The coroutine never runs at the same time as its
// caller, so the dissector stays single-threaded and deterministic; it
// holds the decoder's window (32 KiB for gzip and deflate, up to 16 MiB
// for br and 8 MiB for zstd) and a 16 KiB output buffer.
type inflater struct {
	// in is the input the decoder has not read yet, lent by write; eof
	// says no more will come.
	in  []byte
	eof bool
	// err is the decoder's error; done says the coroutine returned.
	err  error
	done bool
	next func() ([]byte, bool)
	stop func()
	// out receives the decoded bytes, valid during the call.
	out func([]byte)
}

// errStopped is what the decoder reads once its body was abandoned.
var errStopped = errors.New("decoder stopped")

// newInflater returns a decoder of coding ("gzip", "deflate", "br" or
// "zstd") that passes what it decodes to out. The caller must end it with
// close or abort.
func newInflater(coding string, out func([]byte)) *inflater {
	z := &inflater{out: out}
	z.next, z.stop = iter.Pull(z.run(coding))
	return z
}

// write decodes p, which is only read during the call, and returns the
// decoder's error, if any. Input after the end of the coded data is
// ignored.
func (z *inflater) write(p []byte) error {
	if z.done {
		return z.err
	}
	z.in = p
	z.pump()
	z.in = nil
	return z.err
}

// close says the body is complete and returns the decoder's error: a
// truncated coded body is an error.
func (z *inflater) close() error {
	if !z.done {
		z.eof = true
		z.pump()
	}
	z.stop()
	return z.err
}

// abort abandons the decoder of a body that was cut short.
func (z *inflater) abort() { z.stop() }

// pump resumes the decoder until it wants more input or returns.
func (z *inflater) pump() {
	for {
		b, ok := z.next()
		if !ok {
			z.done = true
			return
		}
		if b == nil {
			return
		}
		z.out(b)
	}
}

// run is the coroutine's body: it yields decoded bytes, or nil when it
// needs more input.
func (z *inflater) run(coding string) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		stopped := false
		y := func(b []byte) bool {
			if stopped || !yield(b) {
				stopped = true
				return false
			}
			return true
		}
		defer func() {
			// The decoders are not expected to panic; if one does on
			// hostile input, the body fails to decode, nothing more.
			if r := recover(); r != nil {
				z.err = fmt.Errorf("%s decoder panicked: %v", coding, r)
			}
		}()
		r, err := openDecoder(coding, &pullReader{z: z, yield: y})
		if err != nil {
			z.err = err
			return
		}
		defer r.Close()
		buf := make([]byte, 16<<10)
		for idle := 0; idle < 100; {
			n, err := r.Read(buf)
			if n > 0 {
				idle = 0
				if !y(buf[:n]) {
					return
				}
			} else {
				idle++
			}
			if err == io.EOF {
				return
			}
			if err != nil {
				z.err = err
				return
			}
		}
		z.err = io.ErrNoProgress
	}
}

// pullReader is the decoder's input: it reads what write lent and yields
// nil to wait for more.
type pullReader struct {
	z     *inflater
	yield func([]byte) bool
}

func (r *pullReader) Read(p []byte) (int, error) {
	for len(r.z.in) == 0 {
		if r.z.eof {
			return 0, io.EOF
		}
		if !r.yield(nil) {
			return 0, errStopped
		}
	}
	n := copy(p, r.z.in)
	r.z.in = r.z.in[n:]
	return n, nil
}

// openDecoder returns the decoder of coding reading src.
func openDecoder(coding string, src io.Reader) (io.ReadCloser, error) {
	switch coding {
	case "gzip":
		return gzip.NewReader(src)
	case "deflate":
		// RFC 9110 section 8.4.1.2: "deflate" is a zlib stream, but
		// some servers send raw deflate; a zlib header tells them apart.
		br := bufio.NewReader(src)
		if h, err := br.Peek(2); err == nil && isZlibHeader(h[0], h[1]) {
			return zlib.NewReader(br)
		}
		return flate.NewReader(br), nil
	case "br":
		return io.NopCloser(brotli.NewReader(src)), nil
	case "zstd":
		d, err := zstd.NewReader(src,
			zstd.WithDecoderConcurrency(1), // decode in Read, no goroutines
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	return nil, fmt.Errorf("unknown content coding %q", coding)
}

// isZlibHeader reports whether two bytes start a zlib stream (RFC 1950
// section 2.2): deflate with a window of at most 32 KiB and a valid check.
func isZlibHeader(cmf, flg byte) bool {
	return cmf&0x0f == 8 && cmf>>4 <= 7 && (uint16(cmf)<<8|uint16(flg))%31 == 0
}
