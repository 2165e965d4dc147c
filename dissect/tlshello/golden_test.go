package tlshello

import (
	"bytes"
	"crypto/tls"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/htapod/htapod/event"
)

// update rewrites testdata from live crypto/tls handshakes:
//
//	go test ./dissect/tlshello -run Golden -update
var update = flag.Bool("update", false, "rewrite testdata/ from crypto/tls")

// clientCase is a ClientHello written by a real crypto/tls client, kept
// as testdata/NAME.hex. want holds the fields that do not depend on the
// Go version (Len, CipherSuites and Extensions are checked apart).
type clientCase struct {
	name string
	gen  func(testing.TB) []byte
	want Hello
}

var clientCases = []clientCase{{
	name: "client-tls13",
	gen: func(tb testing.TB) []byte {
		return clientHello(tb, &tls.Config{ServerName: "lab.test", NextProtos: []string{"h2", "http/1.1"}})
	},
	want: Hello{Version: 0x0303, SupportedVersions: []uint16{0x0304, 0x0303}, SNI: "lab.test", ALPN: []string{"h2", "http/1.1"}},
}, {
	name: "client-tls12",
	gen: func(tb testing.TB) []byte {
		return clientHello(tb, &tls.Config{ServerName: "lab.test", MaxVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}})
	},
	want: Hello{Version: 0x0303, SupportedVersions: []uint16{0x0303}, SNI: "lab.test", ALPN: []string{"http/1.1"}},
}, {
	// crypto/tls sends no SNI for an IP address (RFC 6066 §3: "Literal
	// IPv4 and IPv6 addresses are not permitted in "HostName"").
	name: "client-nosni",
	gen: func(tb testing.TB) []byte {
		return clientHello(tb, &tls.Config{ServerName: "192.0.2.1"})
	},
	want: Hello{Version: 0x0303, SupportedVersions: []uint16{0x0304, 0x0303}},
}, {
	name: "client-resume",
	gen:  resumingHello,
	want: Hello{Version: 0x0303, SupportedVersions: []uint16{0x0304, 0x0303}, SNI: "lab.test", SessionTicket: true, PSK: true},
}, {
	// With ECH the outer ClientHello names the config's public_name.
	name: "client-ech",
	gen: func(tb testing.TB) []byte {
		return clientHello(tb, &tls.Config{
			ServerName:                     "secret.lab.test",
			MinVersion:                     tls.VersionTLS13,
			NextProtos:                     []string{"h2"},
			EncryptedClientHelloConfigList: echConfigList(tb),
		})
	},
	want: Hello{Version: 0x0303, SupportedVersions: []uint16{0x0304}, SNI: "public.lab.test", ALPN: []string{"h2"}, ECH: true},
}, {
	// The key exchange groups, in the client's order (htapod's upstream
	// leg offers the same kind: no post-quantum hybrid unless the client
	// offered one).
	name: "client-groups",
	gen: func(tb testing.TB) []byte {
		return clientHello(tb, &tls.Config{ServerName: "lab.test", CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256}})
	},
	want: Hello{Version: 0x0303, SupportedVersions: []uint16{0x0304, 0x0303}, SNI: "lab.test",
		SupportedGroups: []uint16{uint16(tls.X25519), uint16(tls.CurveP256)}},
}}

// checkHello compares got with want on the fields clientCase.want holds,
// and checks that Len is n and the lists are consistent.
func checkHello(tb testing.TB, got *Hello, want Hello, n int) {
	tb.Helper()
	if got.Len != n {
		tb.Errorf("Len = %d; want %d", got.Len, n)
	}
	if got.Version != want.Version || got.SNI != want.SNI || got.ECH != want.ECH ||
		got.SessionTicket != want.SessionTicket || got.PSK != want.PSK ||
		!slices.Equal(got.SupportedVersions, want.SupportedVersions) || !slices.Equal(got.ALPN, want.ALPN) {
		tb.Errorf("Parse = %+v; want %+v", *got, want)
	}
	if want.SupportedGroups != nil && !slices.Equal(got.SupportedGroups, want.SupportedGroups) {
		tb.Errorf("SupportedGroups = %v; want %v", got.SupportedGroups, want.SupportedGroups)
	}
	if len(got.SupportedGroups) == 0 && (len(got.SupportedVersions) == 0 || got.SupportedVersions[0] == 0x0304) {
		tb.Errorf("SupportedGroups = %v; a TLS 1.3 client sends some", got.SupportedGroups)
	}
	if len(got.CipherSuites) == 0 {
		tb.Errorf("CipherSuites = %v; want some", got.CipherSuites)
	}
	if hasSNI := slices.Contains(got.Extensions, extServerName); hasSNI != (want.SNI != "") {
		tb.Errorf("Extensions = %v; server_name there = %v, want %v", got.Extensions, hasSNI, want.SNI != "")
	}
	if got.PSK && got.Extensions[len(got.Extensions)-1] != extPreSharedKey {
		tb.Errorf("Extensions = %v; want pre_shared_key last", got.Extensions)
	}
}

// TestParseCryptoTLS parses what today's crypto/tls writes (and with
// -update keeps it as the golden files).
func TestParseCryptoTLS(t *testing.T) {
	for _, tc := range clientCases {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.gen(t)
			h, err := Parse(b)
			if err != nil {
				t.Fatalf("Parse = %v", err)
			}
			checkHello(t, h, tc.want, len(b))
			if *update {
				writeHex(t, tc.name+".hex", b)
				writeSeed(t, "FuzzParse", tc.name, b)
			}
		})
	}
}

// TestParseGolden parses the ClientHellos kept in testdata.
func TestParseGolden(t *testing.T) {
	for _, tc := range clientCases {
		t.Run(tc.name, func(t *testing.T) {
			b := readHex(t, tc.name+".hex")
			h, err := Parse(b)
			if err != nil {
				t.Fatalf("Parse = %v", err)
			}
			checkHello(t, h, tc.want, len(b))
		})
	}
}

// readHex reads testdata/name, hex with any white space.
func readHex(tb testing.TB, name string) []byte {
	tb.Helper()
	s, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	b, err := hex.DecodeString(strings.Join(strings.Fields(string(s)), ""))
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return b
}

// writeHex writes b to testdata/name as hex, 32 bytes a line.
func writeHex(tb testing.TB, name string, b []byte) {
	tb.Helper()
	var s strings.Builder
	for len(b) > 0 {
		n := min(32, len(b))
		s.WriteString(hex.EncodeToString(b[:n]) + "\n")
		b = b[n:]
	}
	if err := os.WriteFile(filepath.Join("testdata", name), []byte(s.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// writeSeed adds b to the seed corpus of fuzz target fuzz.
func writeSeed(tb testing.TB, fuzz, name string, b []byte) {
	tb.Helper()
	dir := filepath.Join("testdata", "fuzz", fuzz)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	s := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// readTranscript reads testdata/name: one chunk a line, "up" or "down"
// then hex.
func readTranscript(tb testing.TB, name string) []chunk {
	tb.Helper()
	s, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	var log []chunk
	for _, line := range strings.Split(strings.TrimSpace(string(s)), "\n") {
		dir, h, _ := strings.Cut(line, " ")
		b, err := hex.DecodeString(h)
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		c := chunk{event.Up, b}
		if dir == "down" {
			c.dir = event.Down
		}
		log = append(log, c)
	}
	return log
}

// writeTranscript writes log to testdata/name for readTranscript.
func writeTranscript(tb testing.TB, name string, log []chunk) {
	tb.Helper()
	var s bytes.Buffer
	for _, c := range log {
		fmt.Fprintf(&s, "%s %x\n", c.dir, c.b)
	}
	if err := os.WriteFile(filepath.Join("testdata", name), s.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// handshakeCase is a whole crypto/tls handshake, kept as
// testdata/NAME.txt, and the event the passthrough dissector makes of it.
type handshakeCase struct {
	name           string
	client, server func(testServer) *tls.Config
	want           event.TLS // FlowID, Server and Time are filled in
}

var handshakeCases = []handshakeCase{{
	// TLS 1.3 encrypts the server's ALPN: the dissector cannot see it.
	name: "handshake-tls13",
	client: func(ts testServer) *tls.Config {
		c := ts.client.Clone()
		c.NextProtos = []string{"h2", "http/1.1"}
		return c
	},
	server: func(ts testServer) *tls.Config { return ts.server },
	want: event.TLS{SNI: "lab.test", ALPNOffered: []string{"h2", "http/1.1"}, Version: "TLS 1.3",
		VersionsOffered: []string{"TLS 1.3", "TLS 1.2"}, CipherSuite: "TLS_AES_128_GCM_SHA256"},
}, {
	name: "handshake-tls12",
	client: func(ts testServer) *tls.Config {
		c := ts.client.Clone()
		c.NextProtos = []string{"h2", "http/1.1"}
		c.MaxVersion = tls.VersionTLS12
		return c
	},
	server: func(ts testServer) *tls.Config { return ts.server },
	want: event.TLS{SNI: "lab.test", ALPNOffered: []string{"h2", "http/1.1"}, Version: "TLS 1.2", ALPN: "h2",
		VersionsOffered: []string{"TLS 1.2"}, CipherSuite: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
}, {
	name: "handshake-tls12-noalpn",
	client: func(ts testServer) *tls.Config {
		c := ts.client.Clone()
		c.MaxVersion = tls.VersionTLS12
		return c
	},
	server: func(ts testServer) *tls.Config { return ts.server },
	want: event.TLS{SNI: "lab.test", Version: "TLS 1.2",
		VersionsOffered: []string{"TLS 1.2"}, CipherSuite: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
}}
