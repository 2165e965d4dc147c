package har

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/htapod/htapod/event"
)

// The types below are HAR 1.2's objects, with the spec's field names. Fields
// that start with "_" are custom fields, which the spec allows ("custom
// fields and elements MUST start with an underscore") and readers ignore.

type entry struct {
	StartedDateTime string   `json:"startedDateTime"`
	Time            float64  `json:"time"`
	Request         request  `json:"request"`
	Response        response `json:"response"`
	Cache           struct{} `json:"cache"`
	Timings         timings  `json:"timings"`
	ServerIPAddress string   `json:"serverIPAddress,omitempty"`
	Connection      string   `json:"connection,omitempty"`
	// ResourceType is "websocket" on an upgrade entry, as Chrome writes.
	ResourceType string `json:"_resourceType,omitempty"`
	// WebSocketMessages are the messages of a WebSocket, on its upgrade
	// entry (Chrome's field); WebSocketDropped counts those past the bounds.
	WebSocketMessages []wsMessage `json:"_webSocketMessages,omitempty"`
	WebSocketDropped  int         `json:"_webSocketMessagesDropped,omitempty"`
	// Process is the process that made the request.
	Process *processField `json:"_process,omitempty"`
	// Action says htapod answered or disturbed the exchange ("mock",
	// "replay", "fault delay:200ms").
	Action string `json:"_action,omitempty"`
}

type request struct {
	Method      string    `json:"method"`
	URL         string    `json:"url"`
	HTTPVersion string    `json:"httpVersion"`
	Cookies     []cookie  `json:"cookies"`
	Headers     []pair    `json:"headers"`
	QueryString []pair    `json:"queryString"`
	PostData    *postData `json:"postData,omitempty"`
	HeadersSize int       `json:"headersSize"`
	BodySize    int64     `json:"bodySize"`
	// Trailers has the trailer fields, which HAR has no place for.
	Trailers []pair `json:"_trailers,omitempty"`
}

type response struct {
	Status      int      `json:"status"`
	StatusText  string   `json:"statusText"`
	HTTPVersion string   `json:"httpVersion"`
	Cookies     []cookie `json:"cookies"`
	Headers     []pair   `json:"headers"`
	Content     content  `json:"content"`
	RedirectURL string   `json:"redirectURL"`
	HeadersSize int      `json:"headersSize"`
	BodySize    int64    `json:"bodySize"`
	Trailers    []pair   `json:"_trailers,omitempty"`
	// Error says why the exchange ended early; Chrome puts its
	// net::ERR_… here too.
	Error string `json:"_error,omitempty"`
}

// pair is a header, query parameter or form parameter.
type pair struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type cookie struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	Path     string `json:"path,omitempty"`
	Domain   string `json:"domain,omitempty"`
	Expires  string `json:"expires,omitempty"`
	HTTPOnly bool   `json:"httpOnly,omitempty"`
	Secure   bool   `json:"secure,omitempty"`
}

type postData struct {
	MimeType string `json:"mimeType"`
	Params   []pair `json:"params,omitempty"`
	Text     string `json:"text"`
	// Encoding is "base64" for a body that is not UTF-8: HAR 1.2's
	// postData has no encoding field, unlike content.
	Encoding  string `json:"_encoding,omitempty"`
	Truncated bool   `json:"_truncated,omitempty"`
}

type content struct {
	Size        int64  `json:"size"`
	Compression *int64 `json:"compression,omitempty"`
	MimeType    string `json:"mimeType"`
	Text        string `json:"text,omitempty"`
	Encoding    string `json:"encoding,omitempty"`
	Truncated   bool   `json:"_truncated,omitempty"`
}

// timings are in milliseconds; -1 means "does not apply or not known".
// HAR 1.2 requires send, wait and receive to be non-negative.
type timings struct {
	Blocked float64 `json:"blocked"`
	DNS     float64 `json:"dns"`
	Connect float64 `json:"connect"`
	Send    float64 `json:"send"`
	Wait    float64 `json:"wait"`
	Receive float64 `json:"receive"`
	SSL     float64 `json:"ssl"`
}

// dateFormat is startedDateTime's format: ISO 8601 in UTC to the
// millisecond, as browsers write it.
const dateFormat = "2006-01-02T15:04:05.000Z07:00"

// marshalEntry returns the HAR entry of a finished exchange as one line of
// JSON without the newline.
func marshalEntry(h *event.HTTP) ([]byte, error) {
	return encodeEntry(newEntry(h))
}

// encodeEntry encodes e on one line, without HTML escapes.
func encodeEntry(e *entry) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func newEntry(h *event.HTTP) *entry {
	// htapod only knows when the request began, when the response head
	// began and when the exchange ended: the request is counted as sent
	// at once, so that send+wait+receive is the whole time, as the spec
	// asks of entry.time.
	wait, receive := h.End.Sub(h.Start), time.Duration(0)
	if !h.RespStart.IsZero() {
		wait, receive = h.RespStart.Sub(h.Start), h.End.Sub(h.RespStart)
	}
	if h.End.IsZero() {
		receive = 0
		if h.RespStart.IsZero() {
			wait = 0
		}
	}
	wait, receive = max(wait, 0), max(receive, 0)
	e := &entry{
		StartedDateTime: h.Start.UTC().Format(dateFormat),
		Time:            millis(wait + receive),
		Request:         newRequest(h),
		Response:        newResponse(h),
		Timings: timings{Blocked: -1, DNS: -1, Connect: -1, SSL: -1,
			Send: 0, Wait: millis(wait), Receive: millis(receive)},
		Connection: strconv.FormatUint(h.FlowID, 10),
		Process:    newProcessField(h.Process),
		Action:     h.Action,
	}
	if h.Server.IsValid() {
		e.ServerIPAddress = h.Server.Addr().Unmap().String()
	}
	return e
}

func newRequest(h *event.HTTP) request {
	u := cleanURL(h.URL())
	r := request{Method: h.Method, URL: u, HTTPVersion: httpVersion(h.Proto),
		Cookies: requestCookies(h.ReqHeader), Headers: pairs(h.ReqHeader),
		QueryString: parseQuery(query(u)), HeadersSize: -1, BodySize: h.ReqBody.Size,
		Trailers: pairs(h.ReqTrailer)}
	if len(r.Trailers) == 0 {
		r.Trailers = nil
	}
	if h.ReqBody.Size > 0 || len(h.ReqBody.Data) > 0 {
		r.PostData = newPostData(h.ReqHeader, &h.ReqBody)
	}
	return r
}

func newResponse(h *event.HTTP) response {
	r := response{Status: h.Status, Cookies: []cookie{}, Headers: []pair{},
		Content: content{MimeType: "x-unknown"}, HeadersSize: -1, BodySize: -1, Error: h.Err}
	if h.Status == 0 { // no response head: Chrome's status 0
		return r
	}
	r.StatusText = h.Reason
	if r.StatusText == "" { // HTTP/2 has no reason phrase
		r.StatusText = http.StatusText(h.Status)
	}
	r.HTTPVersion = httpVersion(h.Proto)
	r.Cookies = responseCookies(h.RespHeader, h.RespStart)
	r.Headers = pairs(h.RespHeader)
	if len(h.RespTrailer) > 0 {
		r.Trailers = pairs(h.RespTrailer)
	}
	r.Content = newContent(h.RespHeader, &h.RespBody)
	r.RedirectURL = headerValue(h.RespHeader, "Location")
	r.BodySize = h.RespBody.Size
	return r
}

func newContent(headers []event.Header, b *event.Body) content {
	c := content{Size: b.Size, MimeType: mimeType(headers, b), Truncated: b.Truncated}
	if b.DecodedSize >= 0 {
		c.Size = b.DecodedSize
		if b.Encoding != "" {
			// "Number of bytes saved": decoded minus as sent.
			saved := b.DecodedSize - b.Size
			c.Compression = &saved
		}
	}
	c.Text, c.Encoding = text(b.Data)
	return c
}

// httpVersion spells a protocol the way HAR readers expect it.
func httpVersion(proto string) string {
	switch proto {
	case "h2", "h2c":
		return "HTTP/2"
	}
	return proto
}

// mimeType is the Content-Type header as sent (parameters included, as
// the spec's examples have it), else the body's type, else Chrome's
// "x-unknown".
func mimeType(headers []event.Header, b *event.Body) string {
	if v := headerValue(headers, "Content-Type"); v != "" {
		return v
	}
	if b.ContentType != "" {
		return b.ContentType
	}
	return "x-unknown"
}

// headerValue is the value of the first header named name, in any case.
func headerValue(headers []event.Header, name string) string {
	for _, h := range headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// pairs turns header fields into HAR headers, never nil.
func pairs(headers []event.Header) []pair {
	p := make([]pair, len(headers))
	for i, h := range headers {
		p[i] = pair{h.Name, h.Value}
	}
	return p
}

// millis is a duration in milliseconds, to the microsecond.
func millis(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
