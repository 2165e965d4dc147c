package text

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/htapod/htapod/event"
)

// shownBody bounds how much of a body is printed; the rest is counted.
const shownBody = 4 << 10

// writeBody prints a decoded body, indented: JSON pretty-printed, text as
// it is, binary as its size and type; long bodies are cut with a note.
func (s *Sink) writeBody(b *strings.Builder, body *event.Body) {
	data := body.Data
	if len(data) == 0 {
		if body.Size > 0 {
			b.WriteString(fmt.Sprintf("       [%s, not kept]\n", Size(body.Size)))
		}
		return
	}
	if !isText(body.ContentType, data) {
		b.WriteString(fmt.Sprintf("       [binary, %s%s]\n", Size(decoded(body)), typeSuffix(body.ContentType)))
		return
	}
	if isJSON(body.ContentType) && !body.Truncated {
		var out bytes.Buffer
		if json.Indent(&out, data, "", "  ") == nil {
			data = out.Bytes()
		}
	}
	more := decoded(body) - int64(len(data))
	if len(data) > shownBody {
		more += int64(len(data) - shownBody)
		data = data[:shownBody]
		for !utf8.Valid(data) && len(data) > 0 {
			data = data[:len(data)-1]
		}
	}
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		b.WriteString("       " + s.mark(line) + "\n")
	}
	if more > 0 {
		b.WriteString(fmt.Sprintf("       … (%s more)\n", Size(more)))
	}
}

func decoded(b *event.Body) int64 {
	if b.DecodedSize > 0 {
		return b.DecodedSize
	}
	return b.Size
}

func typeSuffix(ct string) string {
	if ct == "" {
		return ""
	}
	return ", " + ct
}

func isJSON(ct string) bool {
	return ct == "application/json" || strings.HasSuffix(ct, "+json")
}

// isText says whether a body reads as text: by its type, or, without
// one, by its bytes (valid UTF-8 without control characters).
func isText(ct string, data []byte) bool {
	switch {
	case strings.HasPrefix(ct, "text/"), isJSON(ct), strings.HasSuffix(ct, "+xml"),
		ct == "application/xml", ct == "application/javascript", ct == "application/x-www-form-urlencoded":
		return true
	case ct != "" && ct != "application/octet-stream":
		return false
	}
	if !utf8.Valid(data) {
		return false
	}
	for _, c := range data {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' {
			return false
		}
	}
	return true
}
