// Package pcapng writes the packets the command exchanged on its TUN to a
// pcapng file, with the TLS secrets of the intercepted connections in
// Decryption Secrets Blocks placed before the packets they decrypt, so
// Wireshark and tshark show the plaintext from the file alone.
package pcapng

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/sink"
)

// flushEvery bounds what a killed run can lose: the file always ends at a
// block boundary, at most this long ago (see FlushInterval).
const flushEvery = time.Second

// Writer writes one pcapng file. Its methods are safe for concurrent use;
// blocks are written in the order the calls take the lock. It is the
// sink.Sink of an unfiltered run (a filtered run wraps it in a Gate): the
// run flushes it on its clock and closes it at the end.
type Writer struct {
	mu     sync.Mutex
	f      *os.File
	w      *pcapgo.NgWriter
	snap   int
	closed bool
	err    error
}

var _ sink.Sink = (*Writer)(nil)

// Create creates (truncates) path and writes the section header and the
// interface: raw IP packets (LINKTYPE_RAW) on "htapod0", nanosecond
// timestamps. snapLen > 0 cuts each packet to that many bytes.
func Create(path string, snapLen int, application string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	intf := pcapgo.NgInterface{
		Name:                "htapod0",
		Description:         "the command's network, as seen by htapod",
		LinkType:            layers.LinkTypeRaw,
		SnapLength:          uint32(max(snapLen, 0)),
		TimestampResolution: 9,
	}
	opts := pcapgo.DefaultNgWriterOptions
	opts.SectionInfo.Application = application
	w, err := pcapgo.NewNgWriterInterface(f, intf, opts)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("write pcapng header: %w", err)
	}
	return &Writer{f: f, w: w, snap: snapLen}, nil
}

// Packet writes one IP packet.
func (p *Writer) Packet(fromBox bool, ts time.Time, pkt []byte) {
	ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(pkt), Length: len(pkt)}
	if p.snap > 0 && len(pkt) > p.snap {
		pkt = pkt[:p.snap]
		ci.CaptureLength = p.snap
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.err != nil {
		return
	}
	// Directions as on the box's htapod0: what the command sends is
	// outbound, what it receives inbound.
	dir := pcapgo.NgEpbFlagDirectionOutbound
	if !fromBox {
		dir = pcapgo.NgEpbFlagDirectionInbound
	}
	p.err = p.w.WritePacketWithOptions(ci, pkt, pcapgo.NgPacketOptions{Flags: &pcapgo.NgEpbFlags{Direction: dir}})
}

// Write takes NSS key log lines (as crypto/tls writes them, one line per
// call) and writes each as a Decryption Secrets Block. It makes Writer a
// key log writer.
func (p *Writer) Write(line []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.err != nil {
		return len(line), nil
	}
	p.err = p.w.WriteDecryptionSecretsBlock(pcapgo.DSB_SECRETS_TYPE_TLS, line)
	return len(line), nil
}

var _ io.Writer = (*Writer)(nil)

// Path is the file's path.
func (p *Writer) Path() string { return p.f.Name() }

// Handle does nothing: the capture is made of packets (Packet) and
// secrets (Write), not events.
func (p *Writer) Handle(event.Event) {}

// Flush writes the buffered blocks to the file, which then ends at a
// block boundary. It returns the first error the file had.
func (p *Writer) Flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed && p.err == nil {
		p.err = p.w.Flush()
	}
	return p.err
}

// FlushInterval implements sink.Paced: a second.
func (p *Writer) FlushInterval() time.Duration { return flushEvery }

// Close flushes and closes the file. It returns the first error the file
// had. It is idempotent.
func (p *Writer) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return p.err
	}
	p.closed = true
	if p.err == nil {
		p.err = p.w.Flush()
	}
	if err := p.f.Close(); p.err == nil {
		p.err = err
	}
	return p.err
}
