package reliability

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"
)

// outputFlags are the flags of a run that writes every output htapod has:
// JSON lines, HAR and pcapng, into dir.
func outputFlags(dir string) []string {
	return []string{"--json", "-o", dir + "/events.jsonl", "--har", dir + "/run.har", "--pcap", dir + "/run.pcapng"}
}

// checkOutputs checks that the outputs of outputFlags(dir) are complete:
// the JSON file has only whole lines that a Go decoder reads and holds a
// finished exchange (status 200) for each of urls; the HAR file parses and
// holds the same exchanges; the pcapng file reads to its end without an
// error (with gopacket's reader, and with tshark where it is installed).
func checkOutputs(t *testing.T, dir string, urls []string) {
	t.Helper()
	evs, err := readJSONLines(dir + "/events.jsonl")
	if err != nil {
		t.Errorf("JSON lines: %v", err)
	} else {
		done := map[string]int{}
		for _, ev := range evs {
			if ev.str("type") == "http" && ev.str("phase") == "done" {
				done[ev.str("url")] = int(ev.num("status"))
			}
		}
		for _, u := range urls {
			if done[u] != 200 {
				t.Errorf("JSON lines: no finished exchange GET %s with status 200 among %d events; exchanges: %v", u, len(evs), done)
			}
		}
	}

	entries, err := readHAR(dir + "/run.har")
	if err != nil {
		t.Errorf("HAR: %v", err)
	} else {
		for _, u := range urls {
			if entries[u] != 200 {
				t.Errorf("HAR: no entry GET %s with status 200; entries: %v", u, entries)
			}
		}
	}

	packets, err := readPcapng(dir + "/run.pcapng")
	if err != nil {
		t.Errorf("pcapng: %v", err)
	} else if packets < 10 {
		t.Errorf("pcapng: %d packets; want the run's packets", packets)
	}
	if msg := tsharkRead(dir + "/run.pcapng"); msg != "" {
		t.Errorf("tshark -r: %s", msg)
	}
}

// readHAR parses a HAR file and returns its entries' status by URL.
func readHAR(path string) (map[string]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var har struct {
		Log struct {
			Version string
			Entries []struct {
				Request struct {
					Method, URL string
				}
				Response struct {
					Status int
				}
			}
		}
	}
	if err := json.Unmarshal(data, &har); err != nil {
		return nil, fmt.Errorf("%s (%d bytes): %w", path, len(data), err)
	}
	if har.Log.Version == "" {
		return nil, fmt.Errorf("%s: no log.version", path)
	}
	m := map[string]int{}
	for _, e := range har.Log.Entries {
		m[e.Request.URL] = e.Response.Status
	}
	return m, nil
}

// readPcapng reads every packet of a pcapng file and returns how many
// there were; an error means the file is cut or malformed.
func readPcapng(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r, err := pcapgo.NewNgReader(bufio.NewReader(f), pcapgo.DefaultNgReaderOptions)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	n := 0
	for {
		_, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("%s: after %d packets: %w", path, n, err)
		}
		n++
	}
}

// tsharkRead reads path with tshark, when it is installed, and returns
// what went wrong, or "".
func tsharkRead(path string) string {
	if _, err := exec.LookPath("tshark"); err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "tshark", "-n", "-r", path)
	cmd.Stdout = io.Discard
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var problems []string
	for _, line := range strings.Split(stderr.String(), "\n") {
		// tshark warns when it runs as root; that says nothing of the file.
		if line = strings.TrimSpace(line); line != "" && !strings.Contains(line, "as user \"root\"") &&
			!strings.Contains(line, "could be dangerous") && !strings.Contains(line, "Running as user") {
			problems = append(problems, line)
		}
	}
	if err != nil || len(problems) > 0 {
		return fmt.Sprintf("%v: %s", err, strings.Join(problems, "; "))
	}
	return ""
}
