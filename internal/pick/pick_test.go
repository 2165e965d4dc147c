package pick

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	xhttp2 "golang.org/x/net/http2"

	"github.com/htapod/htapod/dissect"
	dnsd "github.com/htapod/htapod/dissect/dns"
	"github.com/htapod/htapod/dissect/http1"
	"github.com/htapod/htapod/dissect/http2"
	"github.com/htapod/htapod/dissect/tlshello"
	"github.com/htapod/htapod/event"
	"github.com/miekg/dns"
	"golang.org/x/net/http2/hpack"
)

var t0 = time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC)

// meta is a TCP flow from the command to dst.
func meta(dst string, tls bool, alpn string) dissect.Meta {
	return dissect.Meta{
		FlowID: 7,
		Proto:  event.TCP,
		Src:    netip.MustParseAddrPort("10.0.0.2:40000"),
		Dst:    netip.MustParseAddrPort(dst),
		TLS:    tls,
		ALPN:   alpn,
		Start:  t0,
	}
}

func nopEmit(event.Event) {}

// typeOf names the dynamic type of a dissector: the chooser's result is
// the same kind of dissector as a constructor's when the names match.
func typeOf(v any) string { return fmt.Sprintf("%T", v) }

// clientHello returns the first bytes a crypto/tls client sends.
func clientHello(tb testing.TB) []byte {
	tb.Helper()
	c, s := net.Pipe()
	defer s.Close()
	go func() {
		defer c.Close()
		tls.Client(c, &tls.Config{ServerName: "hello.test", NextProtos: []string{"h2"}}).Handshake()
	}()
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64<<10)
	n, err := s.Read(buf)
	if err != nil {
		tb.Fatal(err)
	}
	if !tlshello.Looks(buf[:n]) {
		tb.Fatalf("the client's first bytes % x are not a TLS handshake record", buf[:min(n, 8)])
	}
	return buf[:n]
}

// dnsQuery returns a DNS query as sent over TCP (with its length prefix).
func dnsQuery(tb testing.TB) []byte {
	tb.Helper()
	m := new(dns.Msg)
	m.SetQuestion("example.test.", dns.TypeA)
	b, err := m.Pack()
	if err != nil {
		tb.Fatal(err)
	}
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
}

// clientPreface is the whole HTTP/2 client connection preface.
const clientPreface = http2.ClientPreface

func TestStream(t *testing.T) {
	hello := clientHello(t)
	query := dnsQuery(t)
	opts := dissect.Options{}
	h1 := typeOf(http1.New(meta("192.0.2.1:80", false, ""), opts, nopEmit))
	h2 := typeOf(http2.New(meta("192.0.2.1:80", false, ""), opts, nopEmit))
	th := typeOf(tlshello.New(meta("192.0.2.1:443", false, ""), opts, nopEmit))
	dn := typeOf(dnsd.NewTCP(meta("192.0.2.1:53", false, ""), opts, nopEmit))
	lz := typeOf(&lazy{})

	tests := []struct {
		name     string
		meta     dissect.Meta
		first    []byte
		wantName string
		wantType string // "" means no dissector
	}{
		{"ALPN h2", meta("192.0.2.1:443", true, "h2"), []byte(clientPreface), "h2", h2},
		{"ALPN h2 before any byte", meta("192.0.2.1:443", true, "h2"), nil, "h2", h2},
		{"ALPN h2 wins over the bytes", meta("192.0.2.1:443", true, "h2"), []byte("GET / HTTP/1.1\r\n"), "h2", h2},
		{"h2c preface", meta("192.0.2.1:80", false, ""), []byte(clientPreface), "h2", h2},
		{"h2 preface over TLS without ALPN", meta("192.0.2.1:443", true, "http/1.1"), []byte(clientPreface + "\x00\x00"), "h2", h2},
		{"ClientHello", meta("192.0.2.1:443", false, ""), hello, "tls", th},
		{"ClientHello on any port", meta("192.0.2.1:8443", false, ""), hello, "tls", th},
		{"ClientHello inside TLS", meta("192.0.2.1:443", true, "http/1.1"), hello, "", ""},
		{"DNS over TCP", meta("192.0.2.53:53", false, ""), query, "dns", dn},
		{"HTTP on port 53", meta("192.0.2.53:53", false, ""), []byte("GET / HTTP/1.1\r\n"), "http/1", h1},
		{"intercepted, nothing yet", meta("192.0.2.1:443", true, "http/1.1"), nil, "auto", lz},
		{"intercepted without ALPN, nothing yet", meta("192.0.2.1:443", true, ""), []byte{}, "auto", lz},
		{"plain, server speaks first", meta("192.0.2.1:25", false, ""), nil, "auto", lz},
		{"SSH", meta("192.0.2.1:22", false, ""), []byte("SSH-2.0-OpenSSH_9.6\r\n"), "", ""},
		{"SMTP", meta("192.0.2.1:25", false, ""), []byte("EHLO me\r\n"), "", ""},
		{"binary", meta("192.0.2.1:9000", false, ""), []byte{0x16, 0x02, 0x00}, "", ""},
		{"lower-case method", meta("192.0.2.1:80", false, ""), []byte("get / HTTP/1.1\r\n"), "", ""},
		{"method without space", meta("192.0.2.1:80", false, ""), []byte("GETX / HTTP/1.1\r\n"), "", ""},
		// Too little to tell: the choice waits for more (see TestLazyMatchesChosenDissector).
		{"method cut short", meta("192.0.2.1:80", false, ""), []byte("GET"), "auto", lz},
	}
	for _, m := range []string{"GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE",
		"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT", "SEARCH", "PURGE", "MKCALENDAR"} {
		tests = append(tests, struct {
			name     string
			meta     dissect.Meta
			first    []byte
			wantName string
			wantType string
		}{"method " + m, meta("192.0.2.1:80", false, ""), []byte(m + " /x HTTP/1.1\r\nHost: a\r\n\r\n"), "http/1", h1})
	}
	choose := Stream(opts)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, name := choose(tt.meta, tt.first, nil, nopEmit)
			got := ""
			if s != nil {
				got = typeOf(s)
			}
			if name != tt.wantName || got != tt.wantType {
				t.Errorf("Stream()(%+v, %q) = %s, %q; want %s, %q", tt.meta, tt.first[:min(len(tt.first), 16)], got, name, tt.wantType, tt.wantName)
			}
		})
	}
}

func TestDatagrams(t *testing.T) {
	dn := typeOf(dnsd.NewUDP(meta("192.0.2.53:53", false, ""), dissect.Options{}, nopEmit))
	tests := []struct {
		name     string
		src, dst string
		wantName string
		wantType string
	}{
		{"to port 53", "10.0.0.2:40000", "192.0.2.53:53", "dns", dn},
		{"from port 53", "10.0.0.2:53", "192.0.2.53:40000", "dns", dn},
		{"IPv6 to port 53", "[fd00::2]:40000", "[2001:db8::53]:53", "dns", dn},
		{"other ports", "10.0.0.2:40000", "192.0.2.1:443", "", ""},
		{"mDNS is not port 53", "10.0.0.2:5353", "224.0.0.251:5353", "", ""},
	}
	choose := Datagrams(dissect.Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := dissect.Meta{
				FlowID: 9, Proto: event.UDP,
				Src: netip.MustParseAddrPort(tt.src), Dst: netip.MustParseAddrPort(tt.dst),
			}
			d, name := choose(m, nopEmit)
			got := ""
			if d != nil {
				got = typeOf(d)
			}
			if name != tt.wantName || got != tt.wantType {
				t.Errorf("Datagrams()(%s -> %s) = %s, %q; want %s, %q", tt.src, tt.dst, got, name, tt.wantType, tt.wantName)
			}
		})
	}
}

// chunk is bytes one side sent.
type chunk struct {
	dir event.Direction
	b   []byte
}

// h2Conversation is an h2 connection in which the server speaks first (its
// SETTINGS, as Go and nginx servers do), then the client's preface and a
// GET, and the server's answer.
func h2Conversation(tb testing.TB) []chunk {
	tb.Helper()
	frames := func(f func(fr *xhttp2.Framer) error) []byte {
		var out bytes.Buffer
		if err := f(xhttp2.NewFramer(&out, nil)); err != nil {
			tb.Fatal(err)
		}
		return out.Bytes()
	}
	header := func(enc *hpack.Encoder, hbuf *bytes.Buffer, kv ...string) []byte {
		hbuf.Reset()
		for i := 0; i < len(kv); i += 2 {
			enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
		}
		return bytes.Clone(hbuf.Bytes())
	}
	var sbuf, cbuf bytes.Buffer
	senc, cenc := hpack.NewEncoder(&sbuf), hpack.NewEncoder(&cbuf)

	serverSettings := frames(func(fr *xhttp2.Framer) error {
		return fr.WriteSettings(xhttp2.Setting{ID: xhttp2.SettingMaxConcurrentStreams, Val: 100})
	})
	client := frames(func(fr *xhttp2.Framer) error {
		if err := fr.WriteSettings(); err != nil {
			return err
		}
		if err := fr.WriteSettingsAck(); err != nil {
			return err
		}
		return fr.WriteHeaders(xhttp2.HeadersFrameParam{
			StreamID:      1,
			BlockFragment: header(cenc, &cbuf, ":method", "GET", ":scheme", "https", ":authority", "h2.test", ":path", "/hello", "user-agent", "pick-test"),
			EndStream:     true,
			EndHeaders:    true,
		})
	})
	server := frames(func(fr *xhttp2.Framer) error {
		if err := fr.WriteSettingsAck(); err != nil {
			return err
		}
		if err := fr.WriteHeaders(xhttp2.HeadersFrameParam{
			StreamID:      1,
			BlockFragment: header(senc, &sbuf, ":status", "200", "content-type", "text/plain"),
			EndHeaders:    true,
		}); err != nil {
			return err
		}
		return fr.WriteData(1, true, []byte("hello, h2"))
	})
	// The server's early bytes arrive in pieces and end inside a frame, so
	// a dissector that lost or reordered them would misparse the rest.
	return []chunk{
		{event.Down, serverSettings[:5]},
		{event.Down, append(bytes.Clone(serverSettings[5:]), server[:4]...)},
		{event.Up, append([]byte(clientPreface), client...)},
		{event.Down, server[4:]},
	}
}

// feed gives chunks to s, chunk i at t0 + i ms, ends both directions and
// closes s; it returns the events and the first Data error.
func feed(s dissect.Stream, events *[]event.Event, chunks []chunk) ([]event.Event, error) {
	var first error
	for i, c := range chunks {
		if err := s.Data(c.dir, bytes.Clone(c.b), t0.Add(time.Duration(i)*time.Millisecond)); err != nil && first == nil {
			first = err
		}
	}
	end := t0.Add(time.Second)
	s.End(event.Up, end)
	s.End(event.Down, end)
	s.Close(end)
	return *events, first
}

func TestLazyMatchesChosenDissector(t *testing.T) {
	h1 := []chunk{
		{event.Up, []byte("GET /a HTTP/1.1\r\nHost: h1.test\r\n\r\n")},
		{event.Down, []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")},
	}
	tests := []struct {
		name   string
		meta   dissect.Meta
		chunks []chunk
		direct func(dissect.Meta, dissect.Options, dissect.Emit) dissect.Stream
	}{
		{"h2 over TLS, server first", meta("192.0.2.1:443", true, ""), h2Conversation(t), http2.New},
		{"h2c, server first", meta("192.0.2.1:80", false, ""), h2Conversation(t), http2.New},
		{"HTTP/1 over TLS", meta("192.0.2.1:443", true, "http/1.1"), h1, http1.New},
		{"HTTP/1, method a byte at a time", meta("192.0.2.1:80", false, ""), []chunk{
			{event.Up, []byte("G")}, {event.Up, []byte("E")},
			{event.Up, []byte("T /a HTTP/1.1\r\nHost: h1.test\r\n\r\n")},
			{event.Down, []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")},
		}, http1.New},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lazyEvents, directEvents []event.Event
			s, name := Stream(dissect.Options{})(tt.meta, nil, nil, func(ev event.Event) { lazyEvents = append(lazyEvents, ev) })
			if name != "auto" {
				t.Fatalf("Stream()(%+v, nil) name = %q; want %q", tt.meta, name, "auto")
			}
			got, err := feed(s, &lazyEvents, tt.chunks)
			if err != nil {
				t.Errorf("lazy Data error = %v; want nil", err)
			}
			want, _ := feed(tt.direct(tt.meta, dissect.Options{}, func(ev event.Event) { directEvents = append(directEvents, ev) }), &directEvents, tt.chunks)
			if len(want) == 0 {
				t.Fatalf("the chosen dissector fed directly emitted nothing (test setup)")
			}
			if !hasHTTP(want) {
				t.Fatalf("direct events %s have no HTTP exchange (test setup)", kinds(want))
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("lazy emitted %s\n%s\nwant, as the dissector fed directly,\n%s", kinds(got), dump(got), dump(want))
			}
		})
	}
}

func hasHTTP(evs []event.Event) bool {
	for _, ev := range evs {
		if h, ok := ev.(*event.HTTP); ok && h.Status == 200 {
			return true
		}
	}
	return false
}

func kinds(evs []event.Event) string {
	var k []string
	for _, ev := range evs {
		k = append(k, ev.Kind())
	}
	return "[" + strings.Join(k, " ") + "]"
}

func dump(evs []event.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "  %+v\n", ev)
	}
	return b.String()
}

func TestLazyGivesUp(t *testing.T) {
	big := bytes.Repeat([]byte{0}, maxEarly+1)
	tests := []struct {
		name   string
		meta   dissect.Meta
		chunks []chunk
	}{
		{
			name: "SMTP",
			meta: meta("192.0.2.1:25", false, ""),
			chunks: []chunk{
				{event.Down, []byte("220 mail.test ESMTP\r\n")},
				{event.Up, []byte("EHLO me\r\n")},
				{event.Down, []byte("250 ok\r\n")},
				{event.Up, []byte("GET / HTTP/1.1\r\n\r\n")}, // too late to choose
			},
		},
		{
			name: "binary over TLS",
			meta: meta("192.0.2.1:443", true, ""),
			chunks: []chunk{
				{event.Up, []byte{0, 1, 2, 3, 4}},
				{event.Down, []byte(clientPreface)},
			},
		},
		{
			name: "server says too much first",
			meta: meta("192.0.2.1:80", false, ""),
			chunks: []chunk{
				{event.Down, big},
				{event.Up, []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n")},
				{event.Down, []byte("HTTP/1.1 204 No Content\r\n\r\n")},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var evs []event.Event
			s, name := Stream(dissect.Options{})(tt.meta, nil, nil, func(ev event.Event) { evs = append(evs, ev) })
			if name != "auto" {
				t.Fatalf("Stream()(%+v, nil) name = %q; want %q", tt.meta, name, "auto")
			}
			got, err := feed(s, &evs, tt.chunks)
			if err != nil || len(got) != 0 {
				t.Errorf("lazy fed %s: events %s, error %v; want none, nil", tt.name, kinds(got), err)
			}
		})
	}
}

// TestH2Settings tells an h2c server's first bytes (SETTINGS, as x/net's
// framer writes them) from other servers' greetings and other frames.
func TestH2Settings(t *testing.T) {
	var buf bytes.Buffer
	fr := xhttp2.NewFramer(&buf, nil)
	fr.WriteSettings(xhttp2.Setting{ID: xhttp2.SettingMaxConcurrentStreams, Val: 100}, xhttp2.Setting{ID: xhttp2.SettingInitialWindowSize, Val: 1 << 20})
	settings := bytes.Clone(buf.Bytes())
	buf.Reset()
	fr.WriteSettings()
	empty := bytes.Clone(buf.Bytes())
	buf.Reset()
	fr.WriteSettingsAck()
	ack := bytes.Clone(buf.Bytes())
	buf.Reset()
	fr.WritePing(false, [8]byte{})
	ping := bytes.Clone(buf.Bytes())
	for _, tt := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"settings", settings, true},
		{"empty settings", empty, true},
		{"settings ack", ack, false},
		{"ping", ping, false},
		{"short", settings[:8], false},
		{"smtp", []byte("220 mail.lab.test ESMTP\r\n"), false},
		{"ssh", []byte("SSH-2.0-OpenSSH_9.2\r\n"), false},
		{"mysql", []byte("\x4a\x00\x00\x00\x0a8.0.36\x00"), false},
	} {
		if got := H2Settings(tt.b); got != tt.want {
			t.Errorf("H2Settings(%s %x) = %v; want %v", tt.name, tt.b, got, tt.want)
		}
	}
}
