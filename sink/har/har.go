// Package har writes the HTTP exchanges of a run as a HAR 1.2 file (HTTP
// Archive, http://www.softwareishard.com/blog/har-12-spec/), which browser
// developer tools and HAR viewers open.
//
// A run may see far more exchanges than fit in memory, so the Writer keeps
// none: each finished exchange is encoded at once and appended to a spill
// file beside the target. The HAR itself is assembled from the spill by
// Flush and Close, into a temporary file that is then renamed over the
// target, so that the target is at any moment either absent or a complete,
// valid HAR.
//
// Each entry is one exchange, from its event.PhaseDone event. Where HAR
// 1.2 has no field for what htapod knows, the entry has a custom field
// (the spec's "_" prefix, which readers skip):
//
//   - response._error: why the exchange ended early (Chrome's field for
//     its net::ERR_…); status is then 0 when no response came.
//   - request._trailers, response._trailers: trailer fields (gRPC status).
//   - postData._encoding: "base64" for a request body that is not UTF-8,
//     whose base64 is then in text (content has encoding, postData not).
//   - postData._truncated, content._truncated: htapod kept only the start
//     of the body.
//   - _webSocketMessages on the entry of an exchange that switched to
//     WebSocket: its messages as Chrome's developer tools export them
//     ([{type: "send"|"receive", time, opcode, data}], binary data in
//     base64), with _resourceType "websocket". Such an entry is written
//     when its flow ends (a Flush writes it with the messages so far).
//
// Timings: htapod sees when a request began, when its response head began
// and when the exchange ended, so send is 0, wait and receive split the
// time, and blocked, dns, connect and ssl are -1 (not known per exchange).
package har

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/sink"
)

// Version is written as log.creator.version. main sets it (or the linker,
// with -ldflags "-X github.com/htapod/htapod/sink/har.Version=…") before
// the first Writer is made; "dev" means a build that did not.
var Version = "dev"

// Writer writes finished HTTP exchanges to a HAR file. It is safe for
// concurrent use: Handle may be called from many goroutines while Flush
// runs.
type Writer struct {
	path string

	// assemble serialises Flush and Close: only one of them writes the
	// target at a time, and Close does not remove the spill under a Flush.
	assemble sync.Mutex
	flushed  int // entries in the target as of the last Flush, -1 for none

	mu       sync.Mutex // guards the fields below
	spill    *os.File
	buf      *bufio.Writer
	entries  int   // entries spilled
	size     int64 // bytes spilled, separators included
	err      error // first error writing the spill; no entry is added after it
	closed   bool
	closeErr error
	ws       map[uint64]*wsEntry // WebSocket upgrade entries whose flows are open
	wsSeen   int                 // WebSocket events taken, so that Flush sees news
}

// New returns a Writer for the HAR file at path. It creates the spill
// file in path's directory (mode 0600, removed by Close), so an unwritable
// directory is reported here rather than at the end of the run. The
// target itself is first written by Flush or Close.
func New(path string) (*Writer, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	spill, err := os.CreateTemp(dir, "."+base+".*.spill")
	if err != nil {
		return nil, fmt.Errorf("create HAR spill file for %q: %w", path, err)
	}
	return &Writer{path: path, spill: spill, buf: bufio.NewWriterSize(spill, 64<<10), flushed: -1}, nil
}

var _ sink.Sink = (*Writer)(nil)

// flushEvery bounds what a killed htapod loses from its HAR file; Flush
// rewrites the whole file, so it is not done more often.
const flushEvery = 2 * time.Second

// FlushInterval implements sink.Paced: two seconds.
func (w *Writer) FlushInterval() time.Duration { return flushEvery }

// Path is the HAR file's path.
func (w *Writer) Path() string { return w.path }

// Handle adds the exchange of a done HTTP event (event.PhaseDone) to the
// HAR. Other events, and events after Close, are ignored. Write errors are
// reported by Flush and Close.
//
// The upgrade exchange of a WebSocket is held until its flow ends (its
// event.Flow) or the Writer closes, and then written with the messages
// seen in between as _webSocketMessages; a Flush meanwhile writes it with
// the messages so far.
func (w *Writer) Handle(e event.Event) {
	if h, ok := e.(*event.HTTP); ok && h.Phase == event.PhaseDone && !isWebSocket(h) {
		line, err := marshalEntry(h)
		w.mu.Lock()
		defer w.mu.Unlock()
		if !w.closed && w.err == nil {
			w.appendEntry(line, err, h)
		}
		return
	}
	switch e.(type) {
	case *event.HTTP, *event.WebSocket, *event.Flow:
		w.mu.Lock()
		defer w.mu.Unlock()
		if !w.closed && w.err == nil && w.handleWebSocket(e) {
			w.wsSeen++
		}
	}
}

// appendEntry appends an encoded entry (or its encoding error) to the
// spill. w.mu is held.
func (w *Writer) appendEntry(line []byte, err error, h *event.HTTP) {
	if err != nil {
		w.err = fmt.Errorf("encode HAR entry for %s: %w", h.URL(), err)
		return
	}
	sep := 0
	if w.entries > 0 {
		sep = len(",\n")
		w.buf.WriteString(",\n")
	}
	if _, err := w.buf.Write(line); err != nil {
		w.err = fmt.Errorf("write HAR spill file: %w", err)
		return
	}
	w.entries++
	w.size += int64(sep + len(line))
}

// Flush (re)writes the target as a complete HAR of every exchange so far.
// It replaces the target atomically (a temporary file renamed over it), so
// a run killed at any moment leaves the HAR of the last Flush. It is meant
// to be called on a timer and on signals; it does nothing when no exchange
// came since the last Flush, and after Close.
func (w *Writer) Flush() error {
	w.assemble.Lock()
	defer w.assemble.Unlock()
	entries, size, pending, err := w.sync(false)
	if err != nil || entries < 0 || entries == w.flushed {
		return err
	}
	if err := w.write(size, pending, false); err != nil {
		return err
	}
	w.flushed = entries
	return nil
}

// Close writes the final HAR and removes the spill file. It returns the
// first error of the run (an entry that could not be spilled, the target
// that could not be written); the target then holds the HAR of the last
// successful Flush, if any. Close may be called more than once; later
// calls return the first call's result.
func (w *Writer) Close() error {
	w.assemble.Lock()
	defer w.assemble.Unlock()
	entries, size, _, err := w.sync(true)
	if entries < 0 { // closed before
		return err
	}
	if err == nil { // also when unchanged since Flush: this write is durable
		err = w.write(size, nil, true)
	}
	name := w.spill.Name()
	err = errors.Join(err, w.spill.Close())
	if rerr := os.Remove(name); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	w.mu.Lock()
	w.closeErr = err
	w.mu.Unlock()
	return err
}

// sync pushes buffered entries to the spill file and says how many
// entries and bytes it holds, and the encoded WebSocket entries still
// open (pending, which Flush writes after the spill). entries counts the
// spilled entries and the WebSocket events taken (a Flush is due when it
// changed), and is -1 after Close (err is then Close's result). With
// closing, it spills the open WebSocket entries and marks the Writer
// closed.
func (w *Writer) sync(closing bool) (entries int, size int64, pending []byte, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return -1, 0, nil, w.closeErr
	}
	if closing {
		for _, id := range slices.Sorted(maps.Keys(w.ws)) {
			if w.err == nil {
				w.spillWS(w.ws[id])
			}
			delete(w.ws, id)
		}
	} else if w.err == nil {
		pending = w.pendingWS()
	}
	w.closed = closing
	if w.err == nil {
		if err := w.buf.Flush(); err != nil {
			w.err = fmt.Errorf("write HAR spill file: %w", err)
		}
	}
	return w.entries + w.wsSeen, w.size, pending, w.err
}

// write assembles a HAR from the first size bytes of the spill file:
// header, entries, the pending ones, footer, into a temporary file in the
// target's directory that is then renamed over the target. Entries
// appended meanwhile lie past size and are left for the next write. With
// durable, the file is synced before the rename.
func (w *Writer) write(size int64, pending []byte, durable bool) (err error) {
	dir, base := filepath.Split(w.path)
	if dir == "" {
		dir = "."
	}
	// A descriptor of its own, so that reading does not move the offset
	// Handle appends at, and so that io.Copy between two files can copy
	// in the kernel (copy_file_range) rather than through us.
	spill, err := os.Open(w.spill.Name())
	if err != nil {
		return fmt.Errorf("write HAR %q: %w", w.path, err)
	}
	defer spill.Close()
	tmp, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return fmt.Errorf("write HAR %q: %w", w.path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("write HAR %q: %w", w.path, err)
		}
	}()
	head, foot := header(), "]}}\n"
	if size > 0 || len(pending) > 0 {
		head, foot = head+"\n", "\n"+foot
	}
	if size > 0 && len(pending) > 0 {
		pending = append([]byte(",\n"), pending...)
	}
	if _, err := io.WriteString(tmp, head); err != nil {
		return err
	}
	if _, err := io.Copy(tmp, io.LimitReader(spill, size)); err != nil {
		return err
	}
	if _, err := tmp.Write(pending); err != nil {
		return err
	}
	if _, err := io.WriteString(tmp, foot); err != nil {
		return err
	}
	// Flush guards against htapod being killed, which the page cache
	// survives; Close also guards against a power loss, after which the
	// target must not be a renamed file whose data never reached the disk.
	// Syncing every few seconds would rewrite a large HAR to disk as often.
	if durable {
		if err := tmp.Sync(); err != nil {
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), w.path)
}

// header opens the log object and its entries array.
func header() string {
	version, _ := json.Marshal(Version) // a string always encodes
	return `{"log":{"version":"1.2","creator":{"name":"htapod","version":` + string(version) +
		`},"pages":[],"entries":[`
}
