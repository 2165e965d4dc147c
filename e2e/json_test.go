package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/htapod/htapod/internal/lab"
)

// documentedFields reads docs/json.md and returns, per event type, the
// fields of the type's first table (its top-level fields) and whether each
// is optional.
func documentedFields(t *testing.T) map[string]map[string]bool {
	t.Helper()
	data, err := os.ReadFile("../docs/json.md")
	if err != nil {
		t.Fatal(err)
	}
	section := regexp.MustCompile("^## ([a-z_]+)$")
	name := regexp.MustCompile("`([a-z_]+)`")
	types := map[string]map[string]bool{}
	var cur string
	inTable, tableDone := false, false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if m := section.FindStringSubmatch(line); m != nil {
			cur, inTable, tableDone = m[1], false, false
			continue
		}
		if cur == "" || tableDone {
			continue
		}
		cells := strings.Split(line, "|")
		switch {
		case len(cells) >= 4 && strings.HasPrefix(line, "| `"):
			inTable = true
			if types[cur] == nil {
				types[cur] = map[string]bool{}
			}
			optional := strings.Contains(cells[3], "*optional*")
			for _, m := range name.FindAllStringSubmatch(cells[1], -1) {
				types[cur][m[1]] = optional
			}
		case inTable && !strings.HasPrefix(line, "|"):
			tableDone = true
		}
	}
	return types
}

// TestJSONFields runs a real HTTPS exchange with --json and checks each
// field docs/json.md lists for the events it makes (flow_open, flow, dns,
// tls, http): every field that is not optional is there, and so is every
// optional field this exchange has something to say for, with a sensible
// value — no count that stays zero.
func TestJSONFields(t *testing.T) {
	e := newTLSEnv(t)
	docs := documentedFields(t)
	for _, typ := range []string{"flow", "flow_open", "dns", "http", "tls"} {
		if len(docs[typ]) == 0 {
			t.Fatalf("docs/json.md lists no fields for %q", typ)
		}
	}
	res := e.tap(lab.RunOptions{}, append([]string{"--json", "--"}, e.curlLab("--compressed", "-o", "/dev/null", labURL(443, "/data.json"))...)...)
	if res.ExitCode != 0 {
		t.Fatalf("htapod --json curl: %v", res)
	}
	seen := map[string][]map[string]any{}
	for _, line := range bytes.Split(res.Stderr, []byte("\n")) {
		if !bytes.HasPrefix(line, []byte("{")) {
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		typ, _ := ev["type"].(string)
		if typ == "http" && ev["phase"] != "done" {
			continue // the done line repeats every field the others have
		}
		seen[typ] = append(seen[typ], ev)
	}
	// Optional fields this exchange must fill, and fields that must not be
	// zero, per type.
	wantOptional := map[string][]string{
		"flow":      {"flow", "upstream", "name"},
		"flow_open": {"flow", "upstream", "name"},
		"dns":       {"server", "transport", "rcode", "source"},
		"tls":       {"flow", "server", "sni", "alpn_offered", "version", "alpn"},
		"http":      {"flow", "server", "status", "response", "resp_start", "end", "duration_ms"},
	}
	nonZero := []string{"up", "down", "packets_up", "packets_down", "duration_ms", "seq", "status", "flow"}
	for typ, want := range wantOptional {
		evs := seen[typ]
		if len(evs) == 0 {
			t.Errorf("no %s event in the run:\n%s", typ, res.Stderr)
			continue
		}
		ev := evs[0]
		if typ == "flow" {
			ev = flowTo(evs, "443")
		}
		for _, common := range []string{"v", "type", "time"} {
			if _, ok := ev[common]; !ok {
				t.Errorf("%s event has no %q: %v", typ, common, ev)
			}
		}
		for field, optional := range docs[typ] {
			v, ok := ev[field]
			must := !optional || slices.Contains(want, field)
			if !ok {
				if must {
					t.Errorf("%s event has no %q: %v", typ, field, ev)
				}
				continue
			}
			if n, isNum := v.(float64); isNum && n == 0 && slices.Contains(nonZero, field) {
				t.Errorf("%s event: %q is 0: %v", typ, field, ev)
			}
		}
	}
	if evs := seen["http"]; len(evs) > 0 {
		checkMessage(t, "request", evs[0]["request"], false)
		checkMessage(t, "response", evs[0]["response"], true)
	}
}

// checkMessage checks an http event's request or response: headers, and
// when withBody a body with its sizes and kept text.
func checkMessage(t *testing.T, which string, v any, withBody bool) {
	t.Helper()
	m, _ := v.(map[string]any)
	if h, _ := m["headers"].([]any); len(h) == 0 {
		t.Errorf("http %s: no headers: %v", which, v)
	}
	if !withBody {
		return
	}
	body, _ := m["body"].(map[string]any)
	for _, f := range []string{"size", "decoded_size"} {
		if n, _ := body[f].(float64); n <= 0 {
			t.Errorf("http %s body: %q = %v; want > 0: %v", which, f, body[f], body)
		}
	}
	if s, _ := body["text"].(string); s == "" {
		t.Errorf("http %s body: no text: %v", which, body)
	}
	if ct, _ := body["content_type"].(string); ct != "application/json" {
		t.Errorf("http %s body: content_type %q; want application/json", which, ct)
	}
}

// flowTo returns the flow event whose dst ends in port, or the first.
func flowTo(evs []map[string]any, port string) map[string]any {
	for _, ev := range evs {
		if dst, _ := ev["dst"].(string); strings.HasSuffix(dst, ":"+port) {
			return ev
		}
	}
	return evs[0]
}
