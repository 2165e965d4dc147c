package har

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/htapod/htapod/event"
)

// text returns data for a HAR text field: as it is when it is UTF-8,
// else in base64 with the encoding "base64".
func text(data []byte) (text, encoding string) {
	if utf8.Valid(data) {
		return string(data), ""
	}
	return base64.StdEncoding.EncodeToString(data), "base64"
}

func newPostData(headers []event.Header, b *event.Body) *postData {
	p := &postData{MimeType: mimeType(headers, b), Truncated: b.Truncated}
	if p.MimeType == "x-unknown" {
		p.MimeType = "" // x-unknown is for responses
	}
	p.Text, p.Encoding = text(b.Data)
	// A whole form also gets its params. The spec calls text and params
	// mutually exclusive, but Chrome and Firefox write both, and importers
	// (Chrome's among them) read text: keeping it keeps the bytes.
	ct := b.ContentType
	if ct == "" {
		ct, _, _ = strings.Cut(headerValue(headers, "Content-Type"), ";")
	}
	isForm := strings.EqualFold(strings.TrimSpace(ct), "application/x-www-form-urlencoded")
	if isForm && p.Encoding == "" && !b.Truncated {
		p.Params = parseQuery(p.Text)
	}
	return p
}

// parseQuery splits an application/x-www-form-urlencoded string into
// its parameters, in order and repeated ones included (url.ParseQuery
// would lose both). Names and values are decoded; one that does not
// decode is kept as it is.
func parseQuery(q string) []pair {
	params := []pair{}
	for part := range strings.SplitSeq(q, "&") {
		if part == "" {
			continue
		}
		name, value, _ := strings.Cut(part, "=")
		params = append(params, pair{unescape(name), unescape(value)})
	}
	return params
}

func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// query is the query of a URL, without "?" and fragment.
func query(u string) string {
	_, q, ok := strings.Cut(u, "?")
	if !ok {
		return ""
	}
	q, _, _ = strings.Cut(q, "#")
	return q
}

// cleanURL percent-encodes the bytes that may not appear in a URI (RFC
// 3986 §2): spaces, controls, non-ASCII, and "<>\"\\^`{|}". Servers accept
// such targets, but HAR readers parse url as a URI.
func cleanURL(u string) string {
	var b strings.Builder
	for i := 0; i < len(u); i++ {
		c := u[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("<>\"\\^`{|}", c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// requestCookies parses the Cookie headers (RFC 6265 §5.4; HTTP/2 may
// split them in several, RFC 9113 §8.2.3). It keeps what it can read
// rather than dropping cookies that net/http would find invalid.
func requestCookies(headers []event.Header) []cookie {
	cookies := []cookie{}
	for _, h := range headers {
		if !strings.EqualFold(h.Name, "Cookie") {
			continue
		}
		for part := range strings.SplitSeq(h.Value, ";") {
			name, value, _ := strings.Cut(strings.TrimSpace(part), "=")
			if name = strings.TrimSpace(name); name != "" {
				cookies = append(cookies, cookie{Name: name, Value: strings.TrimSpace(value)})
			}
		}
	}
	return cookies
}

// responseCookies parses the Set-Cookie headers. A Max-Age is turned into
// an expiry counted from when the response came (at), as browsers do.
func responseCookies(headers []event.Header, at time.Time) []cookie {
	cookies := []cookie{}
	for _, h := range headers {
		if !strings.EqualFold(h.Name, "Set-Cookie") {
			continue
		}
		c, err := http.ParseSetCookie(h.Value)
		if err != nil {
			// Keep the name and value of one net/http rejects.
			first, _, _ := strings.Cut(h.Value, ";")
			name, value, _ := strings.Cut(first, "=")
			if name = strings.TrimSpace(name); name != "" {
				cookies = append(cookies, cookie{Name: name, Value: strings.TrimSpace(value)})
			}
			continue
		}
		hc := cookie{Name: c.Name, Value: c.Value, Path: c.Path, Domain: c.Domain,
			HTTPOnly: c.HttpOnly, Secure: c.Secure}
		switch {
		case c.MaxAge > 0 && !at.IsZero():
			hc.Expires = at.Add(time.Duration(c.MaxAge) * time.Second).UTC().Format(dateFormat)
		case c.MaxAge < 0: // Max-Age=0 or less: expired now
			hc.Expires = time.Unix(0, 0).UTC().Format(dateFormat)
		case !c.Expires.IsZero():
			hc.Expires = c.Expires.UTC().Format(dateFormat)
		}
		cookies = append(cookies, hc)
	}
	return cookies
}
