package http1_test

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/htapod/htapod/dissect"
	"github.com/htapod/htapod/dissect/http1"
	"github.com/htapod/htapod/dissect/internal/dissecttest"
	"github.com/htapod/htapod/dissect/websocket"
	"github.com/htapod/htapod/event"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// t0 is when every test flow starts; step i of a script happens at t0+i ms.
var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// testMeta is the flow every test dissects unless it says otherwise.
var testMeta = dissect.Meta{
	FlowID: 7,
	Proto:  event.TCP,
	Src:    netip.MustParseAddrPort("10.0.0.2:40000"),
	Dst:    netip.MustParseAddrPort("192.0.2.10:80"),
	Name:   "example.test",
	Start:  t0,
}

// step is one thing that happens on a flow: bytes in one direction, or
// that direction's end (FIN).
type step struct {
	dir  event.Direction
	data string
	end  bool
}

func up(s string) step   { return step{dir: event.Up, data: s} }
func down(s string) step { return step{dir: event.Down, data: s} }

var (
	endUp   = step{dir: event.Up, end: true}
	endDown = step{dir: event.Down, end: true}
)

// splitter cuts a step's bytes into the chunks Data receives.
type splitter = dissecttest.Splitter

// splitters are the ways every script is fed; all must give the same events.
func splitters() []splitter { return dissecttest.Splitters(3, 64) }

// webSocketOnly dissects upgrades to WebSocket, as htapod's chooser does,
// and no other.
func webSocketOnly(proto string, meta dissect.Meta, opts dissect.Options, emit dissect.Emit) dissect.Stream {
	if proto == "websocket" {
		return websocket.New(meta, opts, emit)
	}
	return nil
}

// run feeds script to a new dissector that follows upgrades to WebSocket,
// chunked by split, then closes it one millisecond after the last step.
// It returns the events and the error Data returned, if any.
func run(tb testing.TB, meta dissect.Meta, opts dissect.Options, script []step, split func([]byte) [][]byte) ([]event.Event, error) {
	tb.Helper()
	return runUpgrading(tb, meta, opts, webSocketOnly, script, split)
}

// runUpgrading is run with the dissectors of upgraded connections made by
// upgrade.
func runUpgrading(tb testing.TB, meta dissect.Meta, opts dissect.Options, upgrade http1.Upgrade, script []step, split func([]byte) [][]byte) ([]event.Event, error) {
	tb.Helper()
	var evs []event.Event
	s := http1.NewUpgrading(meta, opts, func(e event.Event) { evs = append(evs, e) }, upgrade)
	steps := make([]dissecttest.Step, len(script))
	for i, st := range script {
		steps[i] = dissecttest.Step{Dir: st.dir, Data: []byte(st.data), End: st.end, At: t0.Add(time.Duration(i+1) * time.Millisecond)}
	}
	at, err := dissecttest.Feed(s, steps, split)
	if at.IsZero() {
		at = t0
	}
	s.Close(at.Add(time.Millisecond))
	return evs, err
}

// runAll feeds script with every splitter, checks they agree and returns
// the rendering of the events of the whole feed.
func runAll(t *testing.T, meta dissect.Meta, opts dissect.Options, script []step) string {
	t.Helper()
	var want string
	for _, sp := range splitters() {
		evs, err := run(t, meta, opts, script, sp.Split)
		got := render(evs, err)
		if sp.Name == "whole" {
			want = got
			continue
		}
		if got != want {
			t.Errorf("fed %s:\n%s\nwant (fed whole):\n%s", sp.Name, got, want)
		}
	}
	return want
}

// golden compares got with testdata/name.golden, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("events differ from %s:\n%s\nwant:\n%s", path, got, want)
	}
}

// ms renders a time as milliseconds since t0.
func ms(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return fmt.Sprintf("+%dms", t.Sub(t0).Milliseconds())
}

// render writes events in a stable, readable form for golden files.
func render(evs []event.Event, err error) string {
	var b strings.Builder
	for _, e := range evs {
		switch e := e.(type) {
		case *event.HTTP:
			fmt.Fprintf(&b, "http #%d %s %s %s %s\n", e.Seq, e.Phase, e.Proto, e.Method, e.URL())
			fmt.Fprintf(&b, "  start=%s resp_start=%s end=%s server=%s\n", ms(e.Start), ms(e.RespStart), ms(e.End), e.Server)
			headers(&b, "req_header", e.ReqHeader)
			body(&b, "req_body", e.ReqBody)
			headers(&b, "req_trailer", e.ReqTrailer)
			if e.Status != 0 || len(e.Interim) > 0 {
				fmt.Fprintf(&b, "  status=%d %q interim=%v\n", e.Status, e.Reason, e.Interim)
			}
			headers(&b, "resp_header", e.RespHeader)
			body(&b, "resp_body", e.RespBody)
			headers(&b, "resp_trailer", e.RespTrailer)
			if e.Upgrade != "" || e.Err != "" {
				fmt.Fprintf(&b, "  upgrade=%q err=%q\n", e.Upgrade, e.Err)
			}
		case *event.WebSocket:
			fmt.Fprintf(&b, "websocket %s %s %s size=%d data=%q truncated=%v", ms(e.Time), e.Dir, e.Opcode, e.Size, e.Data, e.Truncated)
			if e.Opcode == "close" {
				fmt.Fprintf(&b, " code=%d reason=%q", e.CloseCode, e.CloseReason)
			}
			b.WriteString("\n")
		case *event.Unparsed:
			fmt.Fprintf(&b, "unparsed %s %s: %s\n", ms(e.Time), e.Dissector, e.Reason)
		default:
			fmt.Fprintf(&b, "%s %+v\n", e.Kind(), e)
		}
	}
	if err != nil {
		fmt.Fprintf(&b, "error: %v\n", err)
	}
	return b.String()
}

func headers(b *strings.Builder, what string, h []event.Header) {
	for _, f := range h {
		fmt.Fprintf(b, "  %s %s: %s\n", what, f.Name, f.Value)
	}
}

func body(b *strings.Builder, what string, x event.Body) {
	if x.Size == 0 && x.Encoding == "" && x.ContentType == "" {
		return
	}
	fmt.Fprintf(b, "  %s size=%d enc=%q type=%q decoded=%d truncated=%v data=%.200q\n",
		what, x.Size, x.Encoding, x.ContentType, x.DecodedSize, x.Truncated, x.Data)
}
