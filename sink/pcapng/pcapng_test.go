package pcapng

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Block types of pcapng (draft-ietf-opsawg-pcapng).
const (
	blockSHB = 0x0A0D0D0A
	blockIDB = 0x00000001
	blockEPB = 0x00000006
	blockDSB = 0x0000000A
	// secretsTLS is the DSB secrets type of a TLS key log ("TLSK").
	secretsTLS = 0x544c534b
)

// newTestWriter creates a pcapng file in a temporary directory; it is
// closed at the end of the test.
func newTestWriter(tb testing.TB, snapLen int) (*Writer, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "capture.pcapng")
	w, err := Create(path, snapLen, "htapod-test 1.0")
	if err != nil {
		tb.Fatalf("Create(%s) error = %v", path, err)
	}
	tb.Cleanup(func() { w.Close() })
	return w, path
}

// ipv4UDP builds an IPv4 packet carrying a UDP datagram with payload.
func ipv4UDP(tb testing.TB, payload string) []byte {
	tb.Helper()
	ip := &layers.IPv4{
		Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
		SrcIP: net.IPv4(10, 0, 0, 2), DstIP: net.IPv4(192, 0, 2, 53),
	}
	udp := &layers.UDP{SrcPort: 40000, DstPort: 9}
	udp.SetNetworkLayerForChecksum(ip)
	return serialize(tb, ip, udp, gopacket.Payload(payload))
}

// ipv6TCP builds an IPv6 packet carrying a TCP segment with payload.
func ipv6TCP(tb testing.TB, payload string) []byte {
	tb.Helper()
	ip := &layers.IPv6{
		Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
		SrcIP: net.ParseIP("fd00::2"), DstIP: net.ParseIP("2001:db8::10"),
	}
	tcp := &layers.TCP{SrcPort: 40001, DstPort: 443, Seq: 1, Ack: 1, ACK: true, PSH: true, Window: 65535}
	tcp.SetNetworkLayerForChecksum(ip)
	return serialize(tb, ip, tcp, gopacket.Payload(payload))
}

func serialize(tb testing.TB, ls ...gopacket.SerializableLayer) []byte {
	tb.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		tb.Fatal(err)
	}
	return bytes.Clone(buf.Bytes())
}

// readPackets reads every packet of a pcapng file with pcapgo.
func readPackets(tb testing.TB, path string) (*pcapgo.NgReader, [][]byte, []gopacket.CaptureInfo, error) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("NewNgReader: %w", err)
	}
	var data [][]byte
	var cis []gopacket.CaptureInfo
	for range 100000 {
		d, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return r, data, cis, nil
		}
		if err != nil {
			return r, data, cis, err
		}
		data = append(data, bytes.Clone(d))
		cis = append(cis, ci)
	}
	tb.Fatal("too many packets")
	return nil, nil, nil, nil
}

// block is one pcapng block, walked by hand.
type block struct {
	typ  uint32
	body []byte // between the length fields
}

// walkBlocks splits a little-endian pcapng file into blocks, checking
// that each block's trailing length equals its leading one.
func walkBlocks(tb testing.TB, b []byte) []block {
	tb.Helper()
	var out []block
	for off := 0; off < len(b); {
		if len(b)-off < 12 {
			tb.Fatalf("block at %d: %d bytes left; want a whole block", off, len(b)-off)
		}
		typ := binary.LittleEndian.Uint32(b[off:])
		n := int(binary.LittleEndian.Uint32(b[off+4:]))
		if n < 12 || n%4 != 0 || off+n > len(b) {
			tb.Fatalf("block %#x at %d has length %d; want a multiple of 4 within the file (%d bytes)", typ, off, n, len(b))
		}
		if trail := int(binary.LittleEndian.Uint32(b[off+n-4:])); trail != n {
			tb.Fatalf("block %#x at %d: trailing length %d; want %d", typ, off, trail, n)
		}
		out = append(out, block{typ: typ, body: b[off+8 : off+n-4]})
		off += n
	}
	return out
}

func TestWriterReadBack(t *testing.T) {
	w, path := newTestWriter(t, 0)
	base := time.Unix(1_700_000_000, 123_456_789)
	pkts := []struct {
		fromBox bool
		ts      time.Time
		data    []byte
	}{
		{true, base, ipv4UDP(t, "hello over IPv4")},
		{false, base.Add(1), ipv6TCP(t, "hello over IPv6")},
		{true, base.Add(1500 * time.Millisecond), ipv4UDP(t, "")},
		{false, base.Add(time.Hour + 7), ipv6TCP(t, string(bytes.Repeat([]byte("x"), 1400)))},
	}
	for _, p := range pkts {
		w.Packet(p.fromBox, p.ts, p.data)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close() error = %v", err)
	}

	r, data, cis, err := readPackets(t, path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	if got := r.LinkType(); got != layers.LinkTypeRaw {
		t.Errorf("LinkType() = %v; want %v", got, layers.LinkTypeRaw)
	}
	intf, err := r.Interface(0)
	if err != nil {
		t.Fatal(err)
	}
	if intf.Name != "htapod0" || intf.SnapLength != 0 {
		t.Errorf("Interface(0) name, snaplen = %q, %d; want %q, 0", intf.Name, intf.SnapLength, "htapod0")
	}
	if got := r.SectionInfo().Application; got != "htapod-test 1.0" {
		t.Errorf("SectionInfo().Application = %q; want %q", got, "htapod-test 1.0")
	}
	if len(data) != len(pkts) {
		t.Fatalf("read %d packets; want %d", len(data), len(pkts))
	}
	for i, p := range pkts {
		if !bytes.Equal(data[i], p.data) {
			t.Errorf("packet %d data = % x; want % x", i, data[i], p.data)
		}
		if !cis[i].Timestamp.Equal(p.ts) || cis[i].Timestamp.UnixNano() != p.ts.UnixNano() {
			t.Errorf("packet %d timestamp = %v; want %v (ns)", i, cis[i].Timestamp, p.ts)
		}
		if cis[i].CaptureLength != len(p.data) || cis[i].Length != len(p.data) {
			t.Errorf("packet %d lengths = %d/%d; want %d/%d", i, cis[i].CaptureLength, cis[i].Length, len(p.data), len(p.data))
		}
		// The bytes decode as the IP packet they were.
		first := layers.LayerTypeIPv4
		if p.data[0]>>4 == 6 {
			first = layers.LayerTypeIPv6
		}
		pkt := gopacket.NewPacket(data[i], first, gopacket.Default)
		if el := pkt.ErrorLayer(); el != nil {
			t.Errorf("packet %d does not decode: %v", i, el.Error())
		}
	}
}

func TestWriterSnapLen(t *testing.T) {
	tests := []struct {
		name     string
		snapLen  int
		pkt      int // packet length
		wantCap  int
		wantSnap uint32
	}{
		{name: "cut", snapLen: 40, pkt: 100, wantCap: 40, wantSnap: 40},
		{name: "shorter than snaplen", snapLen: 40, pkt: 30, wantCap: 30, wantSnap: 40},
		{name: "exactly snaplen", snapLen: 40, pkt: 40, wantCap: 40, wantSnap: 40},
		{name: "zero keeps all", snapLen: 0, pkt: 1500, wantCap: 1500, wantSnap: 0},
		{name: "negative keeps all", snapLen: -1, pkt: 1500, wantCap: 1500, wantSnap: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, path := newTestWriter(t, tt.snapLen)
			pkt := ipv4UDP(t, string(bytes.Repeat([]byte("p"), tt.pkt-28)))
			w.Packet(true, time.Unix(1, 0), pkt)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			r, data, cis, err := readPackets(t, path)
			if err != nil {
				t.Fatal(err)
			}
			if len(data) != 1 {
				t.Fatalf("read %d packets; want 1", len(data))
			}
			if cis[0].CaptureLength != tt.wantCap || cis[0].Length != tt.pkt {
				t.Errorf("Create(snaplen %d): packet of %d captured %d/%d; want %d/%d", tt.snapLen, tt.pkt, cis[0].CaptureLength, cis[0].Length, tt.wantCap, tt.pkt)
			}
			if !bytes.Equal(data[0], pkt[:tt.wantCap]) {
				t.Errorf("Create(snaplen %d): data = % x; want the first %d bytes", tt.snapLen, data[0], tt.wantCap)
			}
			if intf, _ := r.Interface(0); intf.SnapLength != tt.wantSnap {
				t.Errorf("Create(snaplen %d): interface snaplen = %d; want %d", tt.snapLen, intf.SnapLength, tt.wantSnap)
			}
		})
	}
}

func TestWriterSecretsBeforePackets(t *testing.T) {
	w, path := newTestWriter(t, 0)
	line1 := "CLIENT_TRAFFIC_SECRET_0 " + string(bytes.Repeat([]byte("a"), 64)) + " " + string(bytes.Repeat([]byte("b"), 96)) + "\n"
	line2 := "CLIENT_RANDOM " + string(bytes.Repeat([]byte("c"), 64)) + " " + string(bytes.Repeat([]byte("d"), 95)) + "\n" // odd length: padded
	ts := time.Unix(1_700_000_000, 0)
	p1, p2, p3 := ipv4UDP(t, "one"), ipv6TCP(t, "two"), ipv4UDP(t, "three")

	if n, err := w.Write([]byte(line1)); n != len(line1) || err != nil {
		t.Fatalf("Write(line1) = %d, %v; want %d, nil", n, err, len(line1))
	}
	w.Packet(true, ts, p1)
	w.Packet(false, ts.Add(time.Millisecond), p2)
	if n, err := w.Write([]byte(line2)); n != len(line2) || err != nil {
		t.Fatalf("Write(line2) = %d, %v; want %d, nil", n, err, len(line2))
	}
	w.Packet(true, ts.Add(2*time.Millisecond), p3)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blocks := walkBlocks(t, raw)
	var types []uint32
	for _, b := range blocks {
		types = append(types, b.typ)
	}
	want := []uint32{blockSHB, blockIDB, blockDSB, blockEPB, blockEPB, blockDSB, blockEPB}
	if fmt.Sprint(types) != fmt.Sprint(want) {
		t.Fatalf("block types = %#x; want %#x (each DSB before the packets after it)", types, want)
	}
	secrets := []string{line1, line2}
	pkts := [][]byte{p1, p2, p3}
	for _, b := range blocks {
		switch b.typ {
		case blockDSB:
			st := binary.LittleEndian.Uint32(b.body)
			n := int(binary.LittleEndian.Uint32(b.body[4:]))
			if st != secretsTLS {
				t.Errorf("DSB secrets type = %#x; want %#x", st, secretsTLS)
			}
			if got := string(b.body[8 : 8+n]); got != secrets[0] {
				t.Errorf("DSB secrets = %q; want %q", got, secrets[0])
			}
			secrets = secrets[1:]
		case blockEPB:
			n := int(binary.LittleEndian.Uint32(b.body[12:]))
			if got := b.body[20 : 20+n]; !bytes.Equal(got, pkts[0]) {
				t.Errorf("EPB data = % x; want % x", got, pkts[0])
			}
			pkts = pkts[1:]
		}
	}

	// pcapgo skips the DSBs and reads every packet.
	_, data, _, err := readPackets(t, path)
	if err != nil || len(data) != 3 {
		t.Errorf("pcapgo read %d packets, error %v; want 3, nil", len(data), err)
	}
	tsharkReads(t, path, 3)
}

// tsharkReads checks that tshark, when installed, reads the file and
// lists n packets.
func tsharkReads(t *testing.T, path string, n int) {
	t.Helper()
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		return
	}
	cmd := exec.Command(tshark, "-n", "-r", path)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no user profile
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("tshark -r did not finish in 60 s")
	}
	if err != nil {
		t.Fatalf("tshark -r %s: %v\n%s", path, err, stderr.String())
	}
	if lines := bytes.Count(stdout.Bytes(), []byte("\n")); lines != n {
		t.Errorf("tshark -r listed %d packets; want %d\n%s", lines, n, stdout.String())
	}
}

func TestWriterFlush(t *testing.T) {
	w, path := newTestWriter(t, 0)
	ts := time.Unix(1_700_000_000, 5)
	pkts := [][]byte{ipv4UDP(t, "early 1"), ipv6TCP(t, "early 2")}
	w.Write([]byte("CLIENT_RANDOM " + string(bytes.Repeat([]byte("e"), 64)) + " ff\n"))
	for i, p := range pkts {
		w.Packet(true, ts.Add(time.Duration(i)), p)
	}
	// Less than bufio's buffer: only Flush (the run's clock) puts it in
	// the file, which is then complete though still open.
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush() = %v; want nil", err)
	}
	_, data, _, err := readPackets(t, path)
	if err != nil || len(data) != len(pkts) {
		t.Fatalf("unclosed file after Flush: read %d packets, error %v; want %d, nil", len(data), err, len(pkts))
	}
	for i := range pkts {
		if !bytes.Equal(data[i], pkts[i]) {
			t.Errorf("unclosed file: packet %d = % x; want % x", i, data[i], pkts[i])
		}
	}
	raw, _ := os.ReadFile(path)
	walkBlocks(t, raw) // ends at a block boundary
	tsharkReads(t, path, len(pkts))
}

func TestWriterConcurrent(t *testing.T) {
	w, path := newTestWriter(t, 0)
	const writers, each = 8, 50
	pkts := make([][][]byte, writers)
	for g := range pkts {
		for i := range each {
			pkts[g] = append(pkts[g], ipv4UDP(t, fmt.Sprintf("g%d i%d", g, i)))
		}
	}
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, p := range pkts[g] {
				w.Packet(g%2 == 0, time.Unix(int64(g), int64(i)), p)
				if i%10 == 0 {
					w.Write([]byte(fmt.Sprintf("CLIENT_RANDOM %064d %d\n", g*1000+i, i)))
				}
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	count := map[uint32]int{}
	for _, b := range walkBlocks(t, raw) {
		count[b.typ]++
	}
	if count[blockEPB] != writers*each || count[blockDSB] != writers*each/10 {
		t.Errorf("concurrent writes: %d packets, %d DSBs; want %d, %d", count[blockEPB], count[blockDSB], writers*each, writers*each/10)
	}
}

func TestWriterAfterClose(t *testing.T) {
	w, path := newTestWriter(t, 0)
	w.Packet(true, time.Unix(1, 0), ipv4UDP(t, "kept"))
	if err := w.Close(); err != nil {
		t.Fatalf("Close() error = %v", err)
	}
	before, _ := os.ReadFile(path)
	w.Packet(true, time.Unix(2, 0), ipv4UDP(t, "dropped"))
	if n, err := w.Write([]byte("CLIENT_RANDOM x y\n")); n != 18 || err != nil {
		t.Errorf("Write after Close = %d, %v; want 18, nil", n, err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close() error = %v; want nil", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Errorf("writes after Close changed the file (%d -> %d bytes)", len(before), len(after))
	}
}

func TestCreateError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "x.pcapng")
	if w, err := Create(path, 0, "test"); err == nil {
		w.Close()
		t.Errorf("Create(%s) error = nil; want an error", path)
	}
}

func TestCreateTruncates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.pcapng")
	if err := os.WriteFile(path, bytes.Repeat([]byte("junk"), 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := Create(path, 0, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	blocks := walkBlocks(t, raw)
	if len(blocks) != 2 || blocks[0].typ != blockSHB || blocks[1].typ != blockIDB {
		t.Errorf("Create over an old file: %d blocks; want SHB, IDB only", len(blocks))
	}
}
