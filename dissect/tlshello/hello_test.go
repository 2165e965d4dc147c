package tlshello

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/htapod/htapod/dissect"
)

// TestParseFields checks every field of Hello on synthetic ClientHellos.
func TestParseFields(t *testing.T) {
	grease := baseHello()
	grease.suites = []uint16{0x0a0a, 0x1301}
	grease.exts = []ext{
		{0x1a1a, nil},
		{extServerName, []byte{0, 17, 1, 0, 3, 'f', 'o', 'o', 0, 0, 8, 'l', 'a', 'b', '.', 't', 'e', 's', 't'}},
		{extSessionTicket, []byte("ticket")},
		{extECH, []byte{1}},
		versionsExt(0x0304),
		{extPreSharedKey, []byte{0}},
	}
	old := baseHello()
	old.version, old.sessionID, old.noExts = 0x0301, nil, true
	tests := []struct {
		name string
		in   synthHello
		want Hello
	}{{
		name: "base",
		in:   baseHello(),
		want: Hello{
			Version:           0x0303,
			SupportedVersions: []uint16{0x0304, 0x0303},
			SNI:               "lab.test",
			ALPN:              []string{"h2", "http/1.1"},
			CipherSuites:      []uint16{0x1301, 0x1302},
			Extensions:        []uint16{extServerName, extALPN, extSupportedVersions},
		},
	}, {
		// GREASE (RFC 8701) is listed as sent; a name_type other than
		// host_name is skipped.
		name: "grease, ticket, ECH, PSK",
		in:   grease,
		want: Hello{
			Version:           0x0303,
			SupportedVersions: []uint16{0x0304},
			SNI:               "lab.test",
			CipherSuites:      []uint16{0x0a0a, 0x1301},
			Extensions:        []uint16{0x1a1a, extServerName, extSessionTicket, extECH, extSupportedVersions, extPreSharedKey},
			ECH:               true,
			SessionTicket:     true,
			PSK:               true,
		},
	}, {
		name: "TLS 1.0 without extensions",
		in:   old,
		want: Hello{Version: 0x0301, CipherSuites: []uint16{0x1301, 0x1302}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.in.bytes()
			tt.want.Len = len(b)
			got, err := Parse(b)
			if err != nil {
				t.Fatalf("Parse = %v", err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("Parse = %+v; want %+v", *got, tt.want)
			}
		})
	}
}

// TestParseSplit reframes a real ClientHello over two and three records
// at every split point, followed by unrelated bytes.
func TestParseSplit(t *testing.T) {
	b := readHex(t, "client-tls13.hex")
	msg := b[recordHeaderLen:]
	want, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	check := func(in []byte, sizes ...int) {
		t.Helper()
		n := len(in)
		in = append(in, 0x14, 3, 3, 0, 1, 1) // ChangeCipherSpec
		got, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse split %v = %v", sizes, err)
		}
		w := *want
		w.Len = n
		if !reflect.DeepEqual(*got, w) {
			t.Fatalf("Parse split %v = %+v; want %+v", sizes, *got, w)
		}
	}
	for i := 1; i < len(msg); i++ {
		check(records(msg, i), i)
	}
	for i := 1; i < len(msg); i += 97 {
		for j := 1; i+j < len(msg); j += 89 {
			check(records(msg, i, j), i, j)
		}
	}
}

// TestParseTruncated: every proper prefix of a ClientHello is
// incomplete, and Parse never panics on one.
func TestParseTruncated(t *testing.T) {
	for _, tc := range clientCases {
		b := readHex(t, tc.name+".hex")
		split := records(b[recordHeaderLen:], 3, 200)
		for _, in := range [][]byte{b, split} {
			for n := range len(in) {
				if _, err := Parse(in[:n]); err != ErrIncomplete {
					t.Fatalf("%s: Parse(first %d of %d bytes) = %v; want ErrIncomplete", tc.name, n, len(in), err)
				}
				// What parse says it needs is a lower bound.
				if _, need, _ := parse(in[:n]); need <= n || need > len(in) {
					t.Fatalf("%s: parse(first %d of %d bytes) needs %d", tc.name, n, len(in), need)
				}
			}
		}
	}
}

// TestParseErrors gives Parse bytes that are not TLS, broken records and
// broken ClientHellos.
func TestParseErrors(t *testing.T) {
	mutate := func(f func(*synthHello)) []byte {
		h := baseHello()
		f(&h)
		return h.bytes()
	}
	base := baseHello().bytes()
	msg := base[recordHeaderLen:]
	padded := baseHello()
	padded.exts = append(padded.exts, ext{21, make([]byte, 12000)}) // padding, RFC 7685
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrIncomplete},
		{"type only", []byte{22}, ErrIncomplete},
		{"record header only", base[:5], ErrIncomplete},
		{"HTTP", []byte("GET / HTTP/1.1\r\nHost: lab.test\r\n\r\n"), dissect.ErrNotProtocol},
		{"SSH", []byte("SSH-2.0-OpenSSH_9.6\r\n"), dissect.ErrNotProtocol},
		{"SSLv2 ClientHello", []byte{0x80, 0x2e, 0x01, 0x03, 0x01}, dissect.ErrNotProtocol},
		{"application data record", record(23, []byte("hello")), dissect.ErrNotProtocol},
		{"version 2.x", []byte{22, 2, 0, 0, 4}, dissect.ErrNotProtocol},
		{"ServerHello first", records(handshakeMsg(typeServerHello, baseHello().serverBody())), dissect.ErrNotProtocol},
		{"ServerHello first, partial", []byte{22, 3, 3, 0, 80, 2}, dissect.ErrNotProtocol},
		{"record over 2^14", []byte{22, 3, 1, 0x40, 0x01, 1}, dissect.ErrMalformed},
		{"empty record", []byte{22, 3, 1, 0, 0}, dissect.ErrMalformed},
		{"alert between records", append(records(msg[:10]), record(21, []byte{2, 40})...), dissect.ErrMalformed},
		{"bad version of second record", append(records(msg[:10]), 22, 4, 0), dissect.ErrMalformed},
		{"message over MaxLen", []byte{22, 3, 1, 0, 4, 1, 1, 0, 0}, dissect.ErrTooLarge},
		{"records over MaxLen", records(handshakeMsg(typeClientHello, padded.body()), ones(12100)...)[:MaxLen+10], dissect.ErrTooLarge},
		{"short body", records(handshakeMsg(typeClientHello, []byte{3, 3, 0})), dissect.ErrMalformed},
		{"empty body", records(handshakeMsg(typeClientHello, nil)), dissect.ErrMalformed},
		{"session ID of 33 bytes", mutate(func(h *synthHello) { h.sessionID = make([]byte, 33) }), dissect.ErrMalformed},
		{"odd cipher_suites", mutate(func(h *synthHello) { h.suitesRaw = []byte{0, 3, 0x13, 0x01, 0x13} }), dissect.ErrMalformed},
		{"no cipher_suites", mutate(func(h *synthHello) { h.suites = nil }), dissect.ErrMalformed},
		{"no compression", mutate(func(h *synthHello) { h.compression = nil }), dissect.ErrMalformed},
		{"short extensions block", mutate(func(h *synthHello) { h.extsRaw = []byte{0, 9, 0, 0} }), dissect.ErrMalformed},
		{"bytes after extensions", mutate(func(h *synthHello) { h.trailing = []byte{0} }), dissect.ErrMalformed},
		{"duplicate extension", mutate(func(h *synthHello) { h.exts = append(h.exts, alpnExt("h2")) }), dissect.ErrMalformed},
		{"pre_shared_key not last", mutate(func(h *synthHello) { h.exts = append([]ext{{extPreSharedKey, nil}}, h.exts...) }), dissect.ErrMalformed},
		{"empty server_name list", mutate(func(h *synthHello) { h.exts[0] = ext{extServerName, []byte{0, 0}} }), dissect.ErrMalformed},
		{"empty host_name", mutate(func(h *synthHello) { h.exts[0] = sniExt("") }), dissect.ErrMalformed},
		{"two host_names", mutate(func(h *synthHello) { h.exts[0] = sniExt("a.test", "b.test") }), dissect.ErrMalformed},
		{"server_name with bytes after", mutate(func(h *synthHello) { h.exts[0].data = append(h.exts[0].data, 0) }), dissect.ErrMalformed},
		{"empty ALPN list", mutate(func(h *synthHello) { h.exts[1] = ext{extALPN, []byte{0, 0}} }), dissect.ErrMalformed},
		{"empty ALPN name", mutate(func(h *synthHello) { h.exts[1] = alpnExt("h2", "") }), dissect.ErrMalformed},
		{"odd supported_versions", mutate(func(h *synthHello) { h.exts[2] = ext{extSupportedVersions, []byte{3, 3, 4, 3}} }), dissect.ErrMalformed},
		{"empty supported_versions", mutate(func(h *synthHello) { h.exts[2] = versionsExt() }), dissect.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := Parse(tt.in)
			if !errors.Is(err, tt.want) || h != nil {
				t.Errorf("Parse = %+v, %v; want nil, %v", h, err, tt.want)
			}
		})
	}
}

func TestLooks(t *testing.T) {
	tests := []struct {
		in   []byte
		want bool
	}{
		{[]byte{22, 3, 1, 2, 0}, true},
		{[]byte{22, 3, 0}, true},
		{[]byte{22, 3, 4}, true},
		{[]byte{22, 3, 5}, false},
		{[]byte{22, 3}, false},
		{[]byte{23, 3, 3}, false},
		{[]byte("GET / HTTP/1.1"), false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := Looks(tt.in); got != tt.want {
			t.Errorf("Looks(% x) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

func TestVersionName(t *testing.T) {
	for v, want := range map[uint16]string{0x0304: "TLS 1.3", 0x0303: "TLS 1.2", 0x0301: "TLS 1.0", 0x0300: "SSL 3.0", 0x7f1c: "0x7f1c"} {
		if got := VersionName(v); got != want {
			t.Errorf("VersionName(%#04x) = %q; want %q", v, got, want)
		}
	}
}

// TestParseDoesNotKeep checks that a Hello shares no memory with b.
func TestParseDoesNotKeep(t *testing.T) {
	b := baseHello().bytes()
	h, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	want := *h
	want.ALPN = append([]string(nil), h.ALPN...)
	copy(b, bytes.Repeat([]byte{'x'}, len(b)))
	if !reflect.DeepEqual(*h, want) {
		t.Errorf("Hello after overwriting b = %+v; want %+v", *h, want)
	}
}

// ones returns n ones: record sizes for records of one byte each.
func ones(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = 1
	}
	return s
}

func TestOfferedVersions(t *testing.T) {
	tests := []struct {
		h    Hello
		want []string
	}{
		{Hello{Version: 0x0303, SupportedVersions: []uint16{0x3a3a, 0x0304, 0x0303}}, []string{"TLS 1.3", "TLS 1.2"}},
		{Hello{Version: 0x0303}, []string{"TLS 1.2"}},
		{Hello{Version: 0x0301}, []string{"TLS 1.0"}},
		{Hello{Version: 0x0303, SupportedVersions: []uint16{0x7f1c}}, []string{"0x7f1c"}},
	}
	for _, tc := range tests {
		if got := tc.h.OfferedVersions(); !slices.Equal(got, tc.want) {
			t.Errorf("OfferedVersions(%04x, %04x) = %q; want %q", tc.h.Version, tc.h.SupportedVersions, got, tc.want)
		}
	}
}
