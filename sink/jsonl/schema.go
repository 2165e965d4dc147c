package jsonl

import (
	"encoding/base64"
	"net/netip"
	"unicode/utf8"

	"github.com/htapod/htapod/event"
)

// The types below are the schema: their fields, in order, are the fields of
// each type's object after the header (docs/json.md lists them). Fields
// marked omitempty are left out when they say nothing (no name, no error).

type flowObject struct {
	header
	Proto       event.Proto    `json:"proto"`
	Src         string         `json:"src"`
	Dst         string         `json:"dst"`
	Upstream    string         `json:"upstream,omitempty"`
	Name        string         `json:"name,omitempty"`
	Up          int64          `json:"up"`
	Down        int64          `json:"down"`
	PacketsUp   int64          `json:"packets_up"`
	PacketsDown int64          `json:"packets_down"`
	Start       string         `json:"start,omitempty"`
	End         string         `json:"end,omitempty"`
	DurationMS  float64        `json:"duration_ms"`
	Ended       event.End      `json:"ended"`
	Error       string         `json:"error,omitempty"`
	Process     *processObject `json:"process,omitempty"`
}

func flowJSON(h header, f *event.Flow) flowObject {
	return flowObject{header: h, Proto: f.Proto, Src: addr(f.Src), Dst: addr(f.Dst),
		Upstream: addr(f.Upstream), Name: f.Name, Up: f.Up, Down: f.Down,
		PacketsUp: f.PacketsUp, PacketsDown: f.PacketsDown,
		Start: stamp(f.Start), End: stamp(f.Ended), DurationMS: millis(f.Duration()),
		Ended: f.End, Error: f.Err, Process: processJSON(f.Process)}
}

type flowOpenObject struct {
	header
	Proto    event.Proto    `json:"proto"`
	Src      string         `json:"src"`
	Dst      string         `json:"dst"`
	Upstream string         `json:"upstream,omitempty"`
	Name     string         `json:"name,omitempty"`
	Process  *processObject `json:"process,omitempty"`
}

type dnsObject struct {
	header
	Server    string      `json:"server,omitempty"`
	Transport event.Proto `json:"transport,omitempty"`
	QueryID   uint16      `json:"query_id"`
	Name      string      `json:"name"`
	QType     string      `json:"qtype"`
	Rcode     string      `json:"rcode,omitempty"`
	// Answers is [] rather than null when there are none.
	Answers    []string       `json:"answers"`
	Start      string         `json:"start,omitempty"`
	DurationMS float64        `json:"duration_ms"`
	Source     string         `json:"source,omitempty"`
	Truncated  bool           `json:"truncated,omitempty"`
	Error      string         `json:"error,omitempty"`
	Process    *processObject `json:"process,omitempty"`
}

func dnsJSON(h header, d *event.DNS) dnsObject {
	answers := d.Answers
	if answers == nil {
		answers = []string{}
	}
	return dnsObject{header: h, Server: addr(d.Server), Transport: d.Transport,
		QueryID: d.ID, Name: d.Name, QType: d.Type, Rcode: d.Rcode, Answers: answers,
		Start: stamp(d.Start), DurationMS: millis(d.Duration), Source: d.Source,
		Truncated: d.Truncated, Error: d.Err, Process: processJSON(d.Process)}
}

type websocketObject struct {
	header
	Dir    string `json:"dir"`
	Opcode string `json:"opcode"`
	Size   int64  `json:"size"`
	payload
	Truncated      bool   `json:"truncated,omitempty"`
	Compressed     bool   `json:"compressed,omitempty"`
	CompressedSize int64  `json:"compressed_size,omitempty"`
	CloseCode      int    `json:"close_code,omitempty"`
	CloseReason    string `json:"close_reason,omitempty"`
	Error          string `json:"error,omitempty"`
}

func websocketJSON(h header, w *event.WebSocket) websocketObject {
	o := websocketObject{header: h, Dir: w.Dir.String(), Opcode: w.Opcode, Size: w.Size,
		payload: newPayload(w.Data), Truncated: w.Truncated, Compressed: w.Compressed,
		CloseCode: w.CloseCode, CloseReason: w.CloseReason, Error: w.Err}
	if w.Compressed {
		o.CompressedSize = w.CompressedSize
	}
	return o
}

type tlsObject struct {
	header
	Server      string   `json:"server,omitempty"`
	SNI         string   `json:"sni,omitempty"`
	ALPNOffered []string `json:"alpn_offered,omitempty"`
	Intercepted bool     `json:"intercepted"`
	Version     string   `json:"version,omitempty"`
	ALPN        string   `json:"alpn,omitempty"`
	Error       string   `json:"error,omitempty"`
	Alert       string   `json:"alert,omitempty"`

	VersionsOffered []string    `json:"versions_offered,omitempty"`
	CipherSuite     string      `json:"cipher_suite,omitempty"`
	Cert            *certObject `json:"cert,omitempty"`
}

type certObject struct {
	Subject     string   `json:"subject"`
	Issuer      string   `json:"issuer"`
	DNSNames    []string `json:"dns_names,omitempty"`
	IPs         []string `json:"ips,omitempty"`
	NotBefore   string   `json:"not_before"`
	NotAfter    string   `json:"not_after"`
	Verified    string   `json:"verified"`
	VerifyError string   `json:"verify_error,omitempty"`
}

func tlsJSON(h header, t *event.TLS) tlsObject {
	o := tlsObject{header: h, Server: addr(t.Server), SNI: t.SNI, ALPNOffered: t.ALPNOffered,
		Intercepted: t.Intercepted, Version: t.Version, ALPN: t.ALPN, Error: t.Err, Alert: t.Alert,
		VersionsOffered: t.VersionsOffered, CipherSuite: t.CipherSuite}
	if c := t.Cert; c != nil {
		o.Cert = &certObject{Subject: c.Subject, Issuer: c.Issuer, DNSNames: c.DNSNames, IPs: c.IPs,
			NotBefore: stamp(c.NotBefore), NotAfter: stamp(c.NotAfter), Verified: c.Verified, VerifyError: c.VerifyErr}
	}
	return o
}

type unparsedObject struct {
	header
	Dissector string `json:"dissector"`
	Reason    string `json:"reason"`
}

func unparsedJSON(h header, u *event.Unparsed) unparsedObject {
	return unparsedObject{header: h, Dissector: u.Dissector, Reason: u.Reason}
}

type noticeObject struct {
	header
	Level   string `json:"level"`
	Message string `json:"message"`
}

func noticeJSON(h header, n *event.Notice) noticeObject {
	return noticeObject{header: h, Level: n.Level, Message: n.Message}
}

// payload holds data that was kept: as "text" when it is valid UTF-8,
// else as "base64" (standard alphabet, padded). Neither is set when no
// data was kept.
type payload struct {
	Text   string `json:"text,omitempty"`
	Base64 string `json:"base64,omitempty"`
}

func newPayload(data []byte) payload {
	switch {
	case len(data) == 0:
		return payload{}
	case utf8.Valid(data):
		return payload{Text: string(data)}
	}
	return payload{Base64: base64.StdEncoding.EncodeToString(data)}
}

// addr renders an address as "ip:port" ("[ip6]:port"); "" when unset.
func addr(a netip.AddrPort) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
