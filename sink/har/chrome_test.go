package har

import (
	"encoding/json"
	"math"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// specFields are the fields HAR 1.2 defines for each object. Anything else
// must be a custom field, starting with "_", which Chrome's and Firefox's
// importers skip.
var specFields = map[string]string{
	"har":      "log",
	"log":      "version creator browser pages entries comment",
	"creator":  "name version comment",
	"entry":    "pageref startedDateTime time request response cache timings serverIPAddress connection comment",
	"request":  "method url httpVersion cookies headers queryString postData headersSize bodySize comment",
	"response": "status statusText httpVersion cookies headers content redirectURL headersSize bodySize comment",
	"cookie":   "name value path domain expires httpOnly secure comment",
	"pair":     "name value comment",
	"param":    "name value fileName contentType comment",
	"postData": "mimeType params text comment",
	"content":  "size compression mimeType text encoding comment",
	"cache":    "beforeRequest afterRequest comment",
	"timings":  "blocked dns connect send wait receive ssl comment",
}

// children says which kind of object each field holds.
var children = map[string]string{
	"log": "log", "creator": "creator", "entries": "entry", "request": "request",
	"response": "response", "cookies": "cookie", "headers": "pair", "queryString": "pair",
	"_trailers": "pair", "params": "param", "postData": "postData", "content": "content",
	"cache": "cache", "timings": "timings",
}

// checkFields fails on a field that is neither HAR 1.2's nor custom.
func checkFields(t *testing.T, kind, at string, v any) {
	t.Helper()
	switch v := v.(type) {
	case []any:
		for _, x := range v {
			checkFields(t, kind, at+"[]", x)
		}
	case map[string]any:
		allowed := " " + specFields[kind] + " "
		for k, x := range v {
			if !strings.Contains(allowed, " "+k+" ") && !strings.HasPrefix(k, "_") {
				t.Errorf("%s.%s is not a HAR 1.2 field of %s and does not start with _", at, k, kind)
			}
			if child, ok := children[k]; ok {
				checkFields(t, child, at+"."+k, x)
			}
		}
	}
}

// TestChromeExpectations checks what Chrome's HAR import and other readers
// rely on beyond the schema: only custom fields outside the spec, parseable
// dates and URLs, known content encodings, timings that add up.
func TestChromeExpectations(t *testing.T) {
	path := writeSamples(t)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	checkFields(t, "har", "", generic)

	for i, e := range readHAR(t, path).Log.Entries {
		if _, err := time.Parse(time.RFC3339, e.StartedDateTime); err != nil || !strings.HasSuffix(e.StartedDateTime, "Z") {
			t.Errorf("entry %d: startedDateTime %q does not parse as ISO 8601 UTC: %v", i, e.StartedDateTime, err)
		}
		if u, err := url.Parse(e.Request.URL); err != nil || !u.IsAbs() || u.Host == "" {
			t.Errorf("entry %d: url %q is not absolute: %v", i, e.Request.URL, err)
		}
		if c := e.Response.Content; c.MimeType == "" || (c.Encoding != "" && c.Encoding != "base64") {
			t.Errorf("entry %d: content mimeType %q, encoding %q; want a type and no encoding or base64", i, c.MimeType, c.Encoding)
		}
		tm := e.Timings
		for name, v := range map[string]float64{"blocked": tm.Blocked, "dns": tm.DNS, "connect": tm.Connect, "ssl": tm.SSL} {
			if v != -1 && v < 0 {
				t.Errorf("entry %d: timings.%s = %v; want -1 or >= 0", i, name, v)
			}
		}
		if tm.Send < 0 || tm.Wait < 0 || tm.Receive < 0 || math.Abs(e.Time-(tm.Send+tm.Wait+tm.Receive)) > 1e-9 {
			t.Errorf("entry %d: time %v, timings %+v; want send, wait, receive >= 0 adding up to time", i, e.Time, tm)
		}
		if e.Request.HTTPVersion == "" || (e.Response.Status != 0 && e.Response.HTTPVersion == "") {
			t.Errorf("entry %d: httpVersion request %q, response %q", i, e.Request.HTTPVersion, e.Response.HTTPVersion)
		}
	}
}
