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
)

// flushEvery bounds what a killed run can lose: the file always ends at a
// block boundary, at most this long ago.
const flushEvery = time.Second

// Writer writes one pcapng file. Its methods are safe for concurrent use;
// blocks are written in the order the calls take the lock.
type Writer struct {
	mu     sync.Mutex
	f      *os.File
	w      *pcapgo.NgWriter
	snap   int
	closed bool
	stop   chan struct{}
	err    error
}

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
	pw := &Writer{f: f, w: w, snap: snapLen, stop: make(chan struct{})}
	go pw.flusher()
	return pw, nil
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

func (p *Writer) flusher() {
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			p.mu.Lock()
			if !p.closed && p.err == nil {
				p.err = p.w.Flush()
			}
			p.mu.Unlock()
		case <-p.stop:
			return
		}
	}
}

// Close flushes and closes the file. It returns the first error the file
// had. It is idempotent.
func (p *Writer) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return p.err
	}
	p.closed = true
	close(p.stop)
	if p.err == nil {
		p.err = p.w.Flush()
	}
	if err := p.f.Close(); p.err == nil {
		p.err = err
	}
	return p.err
}
