package har

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/htapod/htapod/event"
)

// The types below decode a HAR as a reader would, independently of the
// types that encode it: a misspelt tag on either side fails the tests.
type harFile struct {
	Log struct {
		Version string
		Creator struct{ Name, Version string }
		Pages   []json.RawMessage
		Entries []harEntry
	}
}

type harEntry struct {
	StartedDateTime string
	Time            float64
	Request         struct {
		Method, URL, HTTPVersion string
		Cookies                  []harCookie
		Headers, QueryString     []harPair
		PostData                 *struct {
			MimeType, Text string
			Params         []harPair
			Encoding       string `json:"_encoding"`
		}
		HeadersSize, BodySize int64
	}
	Response struct {
		Status      int
		StatusText  string
		HTTPVersion string
		Cookies     []harCookie
		Headers     []harPair
		Content     struct {
			Size        int64
			Compression *int64
			MimeType    string
			Text        string
			Encoding    string
			Truncated   bool `json:"_truncated"`
		}
		RedirectURL           string
		HeadersSize, BodySize int64
		Trailers              []harPair `json:"_trailers"`
		Error                 string    `json:"_error"`
	}
	Cache   *struct{}
	Timings struct {
		Blocked, DNS, Connect, Send, Wait, Receive, SSL float64
	}
	ServerIPAddress string
	Connection      string
	Pageref         *string
}

type harPair struct{ Name, Value string }

type harCookie struct {
	Name, Value, Path, Domain, Expires string
	HTTPOnly                           bool
	Secure                             bool
}

// newTestWriter returns a Writer for a HAR in a fresh directory, closed at
// the end of the test, and the HAR's path.
func newTestWriter(tb testing.TB) (*Writer, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "run.har")
	w, err := New(path)
	if err != nil {
		tb.Fatalf("New(%q) = %v", path, err)
	}
	tb.Cleanup(func() { w.Close() })
	return w, path
}

// readHAR decodes the HAR at path, failing the test if it is not one.
func readHAR(tb testing.TB, path string) *harFile {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("read HAR: %v", err)
	}
	var f harFile
	if err := json.Unmarshal(b, &f); err != nil {
		tb.Fatalf("HAR is not JSON: %v\n%.2000s", err, b)
	}
	if f.Log.Version != "1.2" || f.Log.Creator.Name != "htapod" || f.Log.Creator.Version != Version {
		tb.Errorf("log = version %q, creator %+v; want 1.2, htapod %s", f.Log.Version, f.Log.Creator, Version)
	}
	return &f
}

// writeSamples writes the sample exchanges, with events that a HAR leaves
// out between them, and closes the Writer.
func writeSamples(tb testing.TB) string {
	tb.Helper()
	w, path := newTestWriter(tb)
	w.Handle(&event.Flow{ID: 7})
	for _, h := range samples {
		early := *h
		early.Phase = event.PhaseRequest
		w.Handle(&early)
		w.Handle(h)
	}
	w.Handle(&event.Notice{Message: "not an exchange"})
	if err := w.Close(); err != nil {
		tb.Fatalf("Close() = %v", err)
	}
	return path
}

func TestEmpty(t *testing.T) {
	w, path := newTestWriter(t)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("New created the target (%v); want it absent until Flush or Close", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	f := readHAR(t, path)
	if f.Log.Entries == nil || len(f.Log.Entries) != 0 {
		t.Errorf("entries = %v; want []", f.Log.Entries)
	}
}

func TestCloseIdempotentAndTidy(t *testing.T) {
	path := writeSamples(t)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(path) // a second run over the same target
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := w.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
	}
	w.Handle(getJSON) // after Close: ignored
	if err := w.Flush(); err != nil {
		t.Errorf("Flush after Close = %v; want nil", err)
	}
	after := readHAR(t, path)
	if len(after.Log.Entries) != 0 || len(before) == 0 {
		t.Errorf("second run left %d entries; want 0", len(after.Log.Entries))
	}
	files, _ := os.ReadDir(filepath.Dir(path))
	if len(files) != 1 {
		var names []string
		for _, f := range files {
			names = append(names, f.Name())
		}
		t.Errorf("directory holds %v; want only run.har (spill and temporary files removed)", names)
	}
}

func TestSpillFileMode(t *testing.T) {
	w, path := newTestWriter(t)
	info, err := os.Stat(w.spill.Name())
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(w.spill.Name()) != filepath.Dir(path) || info.Mode().Perm() != 0o600 {
		t.Errorf("spill %s mode %v; want beside %s, 0600", w.spill.Name(), info.Mode().Perm(), path)
	}
	w.Close()
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("HAR mode = %v, %v; want 0600 (it holds cookies)", info.Mode().Perm(), err)
	}
}

func TestNewUnwritableDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "run.har")
	if _, err := New(path); err == nil || !strings.Contains(err.Error(), "run.har") {
		t.Errorf("New(%q) = %v; want an error naming the file", path, err)
	}
}
