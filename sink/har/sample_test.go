package har

import (
	"bytes"
	"compress/gzip"
	"net/netip"
	"strconv"
	"time"

	"github.com/htapod/htapod/event"
)

// t0 is when the sample exchanges begin.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)

// gzipped returns data gzip'd, as a server would send it.
func gzipped(data []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	zw.Close()
	return b.Bytes()
}

var (
	itemsJSON = []byte(`{"items":[` + string(bytes.Repeat([]byte(`{"name":"<item>","price":1.5},`), 40)) + `{"name":"last"}]}`)
	pngBytes  = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01")
	formBody  = []byte("name=J%C3%BCrgen+M&tag=a&tag=b&empty=")
)

// Sample exchanges, each a PhaseDone event, as the dissectors report them.
var (
	getJSON = &event.HTTP{FlowID: 7, Seq: 1, Phase: event.PhaseDone, Proto: "HTTP/1.1", Scheme: "https",
		Method: "GET", Authority: "api.lab.test", Path: "/v1/items?page=2&q=a%20b&flag&q=c+d",
		ReqHeader: []event.Header{{Name: "Host", Value: "api.lab.test"}, {Name: "Accept", Value: "application/json"},
			{Name: "Cookie", Value: "sid=abc123; theme=dark"}, {Name: "Accept-Encoding", Value: "gzip"}},
		Status: 200, Reason: "OK",
		RespHeader: []event.Header{{Name: "Content-Type", Value: "application/json; charset=utf-8"},
			{Name: "Content-Encoding", Value: "gzip"},
			{Name: "Set-Cookie", Value: "sid=def456; Path=/; Domain=lab.test; Max-Age=3600; Secure; HttpOnly"},
			{Name: "Set-Cookie", Value: "seen=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT"}},
		RespBody: event.Body{Size: int64(len(gzipped(itemsJSON))), Encoding: "gzip", ContentType: "application/json",
			Data: itemsJSON, DecodedSize: int64(len(itemsJSON))},
		Start: t0, RespStart: t0.Add(38 * time.Millisecond), End: t0.Add(40500 * time.Microsecond),
		Server: netip.MustParseAddrPort("203.0.113.10:443")}

	postForm = &event.HTTP{FlowID: 3, Seq: 2, Phase: event.PhaseDone, Proto: "HTTP/1.1", Scheme: "http",
		Method: "POST", Authority: "www.lab.test", Path: "/login",
		ReqHeader: []event.Header{{Name: "Host", Value: "www.lab.test"},
			{Name: "Content-Type", Value: "application/x-www-form-urlencoded; charset=utf-8"}},
		ReqBody: event.Body{Size: int64(len(formBody)), ContentType: "application/x-www-form-urlencoded",
			Data: formBody, DecodedSize: int64(len(formBody))},
		Status: 302, Reason: "Found",
		RespHeader: []event.Header{{Name: "Location", Value: "/home?welcome=1"}, {Name: "Content-Length", Value: "0"}},
		Start:      t0.Add(time.Second), RespStart: t0.Add(time.Second + 5*time.Millisecond),
		End: t0.Add(time.Second + 5*time.Millisecond), Server: netip.MustParseAddrPort("203.0.113.11:80")}

	binary = &event.HTTP{FlowID: 4, Seq: 1, Phase: event.PhaseDone, Proto: "HTTP/1.0", Scheme: "http",
		Method: "PUT", Authority: "upload.lab.test:8080", Path: "/blob/ä b",
		ReqHeader: []event.Header{{Name: "Content-Type", Value: "application/octet-stream"}},
		ReqBody: event.Body{Size: 6, ContentType: "application/octet-stream",
			Data: []byte{0x00, 0xff, 0xfe, 'a', 0x80, 0x01}, DecodedSize: 6},
		Status: 200, Reason: "OK",
		RespHeader: []event.Header{{Name: "Content-Type", Value: "image/png"}},
		RespBody: event.Body{Size: int64(len(pngBytes)) + 100, ContentType: "image/png", Data: pngBytes,
			DecodedSize: int64(len(pngBytes)) + 100, Truncated: true},
		Start: t0.Add(2 * time.Second), RespStart: t0.Add(2*time.Second + time.Millisecond),
		End: t0.Add(2*time.Second + 3*time.Millisecond), Server: netip.MustParseAddrPort("198.51.100.7:8080")}

	h2 = &event.HTTP{FlowID: 11, Seq: 3, Phase: event.PhaseDone, Proto: "h2", Scheme: "https",
		Method: "POST", Authority: "grpc.lab.test", Path: "/lab.Echo/Say",
		ReqHeader: []event.Header{{Name: "content-type", Value: "application/grpc"}, {Name: "te", Value: "trailers"},
			{Name: "cookie", Value: "a=1"}, {Name: "cookie", Value: "b=2"}},
		ReqBody:     event.Body{Size: 9, ContentType: "application/grpc", Data: []byte("\x00\x00\x00\x00\x04ping"), DecodedSize: 9},
		Status:      200,
		RespHeader:  []event.Header{{Name: "content-type", Value: "application/grpc"}},
		RespTrailer: []event.Header{{Name: "grpc-status", Value: "0"}},
		RespBody:    event.Body{Size: 9, ContentType: "application/grpc", Data: []byte("\x00\x00\x00\x00\x04pong"), DecodedSize: 9},
		GRPC:        &event.GRPC{Service: "lab.Echo", Method: "Say", ReqMsgs: []int{4}, RespMsgs: []int{4}, Status: 0},
		Start:       t0.Add(3 * time.Second), RespStart: t0.Add(3*time.Second + time.Millisecond),
		End: t0.Add(3*time.Second + 2*time.Millisecond), Server: netip.MustParseAddrPort("[2001:db8::10]:443")}

	failed = &event.HTTP{FlowID: 12, Seq: 1, Phase: event.PhaseDone, Proto: "h2", Scheme: "https",
		Method: "GET", Authority: "slow.lab.test", Path: "/", ReqHeader: []event.Header{{Name: "accept", Value: "*/*"}},
		Start: t0.Add(4 * time.Second), End: t0.Add(5 * time.Second), Err: "stream reset: CANCEL",
		Server: netip.MustParseAddrPort("[::ffff:203.0.113.12]:443")}

	// samples are the exchanges of TestEntries, in order.
	samples = []*event.HTTP{getJSON, postForm, binary, h2, failed}
)

// numbered returns a copy of getJSON with its own flow, path and a short
// body, for runs of many entries.
func numbered(i int) *event.HTTP {
	h := *getJSON
	h.FlowID = uint64(i)
	h.Path = "/v1/items?i=" + strconv.Itoa(i)
	h.RespBody.Data = []byte(`{"i":` + strconv.Itoa(i) + `}`)
	h.RespBody.DecodedSize = int64(len(h.RespBody.Data))
	return &h
}
