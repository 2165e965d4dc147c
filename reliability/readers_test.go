package reliability

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// The checks of htapod's outputs must fail on a cut or broken file; these
// tests need no lab.

func TestReadJSONLines(t *testing.T) {
	tests := []struct {
		name, data string
		ok         bool
	}{
		{"whole", `{"v":1,"type":"flow"}` + "\n" + `{"v":1,"type":"dns"}` + "\n", true},
		{"empty", "", true},
		{"cut last line", `{"v":1,"type":"flow"}` + "\n" + `{"v":1,"ty`, false},
		{"cut line ended", `{"v":1,"type":"flow"}` + "\n" + `{"v":1,"ty` + "\n", false},
		{"two objects on a line", `{"v":1,"type":"flow"}{"v":1,"type":"flow"}` + "\n", false},
		{"no type", `{"v":1}` + "\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "events.jsonl")
			os.WriteFile(p, []byte(tt.data), 0o644)
			_, err := readJSONLines(p)
			if (err == nil) != tt.ok {
				t.Errorf("readJSONLines(%q) = %v; want ok %v", tt.data, err, tt.ok)
			}
		})
	}
}

func TestReadHAR(t *testing.T) {
	const whole = `{"log":{"version":"1.2","entries":[{"request":{"method":"GET","url":"http://a/"},"response":{"status":200}}]}}`
	dir := t.TempDir()
	os.WriteFile(dir+"/whole.har", []byte(whole), 0o644)
	os.WriteFile(dir+"/cut.har", []byte(whole[:len(whole)-3]), 0o644)
	if m, err := readHAR(dir + "/whole.har"); err != nil || m["http://a/"] != 200 {
		t.Errorf("readHAR(whole) = %v, %v; want http://a/ 200", m, err)
	}
	if _, err := readHAR(dir + "/cut.har"); err == nil {
		t.Errorf("readHAR(cut) = nil error; want one")
	}
}

func TestReadPcapng(t *testing.T) {
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriter(&buf, layers.LinkTypeRaw)
	if err != nil {
		t.Fatal(err)
	}
	pkt := bytes.Repeat([]byte{0x45}, 60)
	for range 5 {
		ci := gopacket.CaptureInfo{Timestamp: time.Now(), CaptureLength: len(pkt), Length: len(pkt), InterfaceIndex: 0}
		if err := w.WritePacket(ci, pkt); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(dir+"/whole.pcapng", buf.Bytes(), 0o644)
	os.WriteFile(dir+"/cut.pcapng", buf.Bytes()[:buf.Len()-20], 0o644)
	if n, err := readPcapng(dir + "/whole.pcapng"); err != nil || n != 5 {
		t.Errorf("readPcapng(whole) = %d, %v; want 5 packets", n, err)
	}
	if n, err := readPcapng(dir + "/cut.pcapng"); err == nil {
		t.Errorf("readPcapng(cut) = %d, nil; want an error", n)
	}
}

func TestFields(t *testing.T) {
	out := []byte("conns open\nother x=1\nconns n=3 ok=2 first_err=\"\"\nconns n=4 ok=4\n")
	f := fields(out, "conns")
	if f["n"] != "4" || f["ok"] != "4" {
		t.Errorf("fields(…, conns) = %v; want the last conns line", f)
	}
	if f := fields(out, "none"); f != nil {
		t.Errorf("fields(…, none) = %v; want nil", f)
	}
}

// TestFieldsQuoted: the clients' result lines are read whole, quoted error
// texts with blanks included (a soak's first failure was cut at its
// first blank, and its words taken for fields).
func TestFieldsQuoted(t *testing.T) {
	out := []byte("noise\nsoak ok=89996 err=3 first_err=\"operation \\\"GET x\\\": ok=1 reset\" extra\n")
	f := fields(out, "soak")
	want := map[string]string{"ok": "89996", "err": "3", "first_err": `operation "GET x": ok=1 reset`}
	if len(f) != len(want) {
		t.Errorf("fields = %q; want %q", f, want)
	}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("fields[%q] = %q; want %q", k, f[k], v)
		}
	}
	if f := fields([]byte("churn\n"), "churn"); f == nil || len(f) != 0 {
		t.Errorf("a bare result line gives %v; want an empty map", f)
	}
}
