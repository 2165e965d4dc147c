package bench

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// wrkScript is the Lua script every wrk run loads: at the end it writes one
// line that parseWrk reads, with the latency percentiles in microseconds,
// instead of wrk's rounded human units.
const wrkScript = `-- htapod's benchmark: one line for the harness at the end of the run.
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("bench: requests=%.0f duration_us=%.0f bytes=%.0f p50_us=%.0f p99_us=%.0f " ..
		"connect=%.0f read=%.0f write=%.0f status=%.0f timeout=%.0f\n",
		summary.requests, summary.duration, summary.bytes,
		latency:percentile(50), latency:percentile(99),
		e.connect, e.read, e.write, e.status, e.timeout))
end
`

// A wrkResult is what one wrk run reported through wrkScript.
type wrkResult struct {
	requests   float64
	durationUS float64
	bytes      float64
	p50US      float64
	p99US      float64
	// errors counts wrk's connect, read, write, status (not 2xx or 3xx)
	// and timeout errors, by kind; only kinds that happened are present.
	errors map[string]float64
}

// rate is requests per second.
func (w wrkResult) rate() float64 { return w.requests / (w.durationUS / 1e6) }

// wrkLine matches the line of wrkScript.
var wrkLine = regexp.MustCompile(`(?m)^bench: (.*)$`)

// parseWrk reads the line of wrkScript in wrk's output.
func parseWrk(out string) (wrkResult, error) {
	m := wrkLine.FindStringSubmatch(out)
	if m == nil {
		return wrkResult{}, fmt.Errorf("wrk printed no result line: %q", tail(out, 400))
	}
	r := wrkResult{errors: map[string]float64{}}
	for _, kv := range strings.Fields(m[1]) {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil {
			return wrkResult{}, fmt.Errorf("wrk result %q: bad field %q", m[1], kv)
		}
		switch k {
		case "requests":
			r.requests = n
		case "duration_us":
			r.durationUS = n
		case "bytes":
			r.bytes = n
		case "p50_us":
			r.p50US = n
		case "p99_us":
			r.p99US = n
		default:
			if n != 0 {
				r.errors[k] = n
			}
		}
	}
	if r.requests == 0 || r.durationUS == 0 {
		return r, fmt.Errorf("wrk made no requests: %q", m[1])
	}
	return r, nil
}

// parseIperf returns the bits per second that the receiving side of an
// `iperf3 -J` run counted.
func parseIperf(out []byte) (float64, error) {
	var doc struct {
		Error string `json:"error"`
		End   struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return 0, fmt.Errorf("iperf3 -J output: %w: %q", err, tail(string(out), 400))
	}
	if doc.Error != "" {
		return 0, fmt.Errorf("iperf3: %s", doc.Error)
	}
	if doc.End.SumReceived.BitsPerSecond == 0 {
		return 0, fmt.Errorf("iperf3 -J output has no end.sum_received.bits_per_second")
	}
	return doc.End.SumReceived.BitsPerSecond, nil
}

// An h2loadResult is the summary of one h2load run.
type h2loadResult struct {
	rate                       float64 // requests per second
	succeeded, failed, errored float64
}

var (
	h2Finished = regexp.MustCompile(`(?m)^finished in [0-9.]+m?s, ([0-9.]+) req/s`)
	h2Requests = regexp.MustCompile(`(?m)^requests: .* ([0-9]+) succeeded, ([0-9]+) failed, ([0-9]+) errored`)
)

// parseH2load reads the "finished in" and "requests:" lines of h2load.
func parseH2load(out string) (h2loadResult, error) {
	f := h2Finished.FindStringSubmatch(out)
	q := h2Requests.FindStringSubmatch(out)
	if f == nil || q == nil {
		return h2loadResult{}, fmt.Errorf("h2load printed no summary: %q", tail(out, 400))
	}
	var r h2loadResult
	r.rate, _ = strconv.ParseFloat(f[1], 64)
	r.succeeded, _ = strconv.ParseFloat(q[1], 64)
	r.failed, _ = strconv.ParseFloat(q[2], 64)
	r.errored, _ = strconv.ParseFloat(q[3], 64)
	if r.succeeded == 0 {
		return r, fmt.Errorf("h2load: no request succeeded: %q", tail(out, 400))
	}
	return r, nil
}

// curlFormat is curl's -w for the download: bytes per second, size, status.
const curlFormat = `%{speed_download} %{size_download} %{http_code}\n`

// parseCurl reads curlFormat's line and checks that want bytes came with
// status 200; it returns bytes per second.
func parseCurl(out string, want int64) (float64, error) {
	f := strings.Fields(out)
	if len(f) != 3 {
		return 0, fmt.Errorf("curl -w printed %q", tail(out, 200))
	}
	speed, err1 := strconv.ParseFloat(f[0], 64)
	size, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("curl -w printed %q", out)
	}
	if f[2] != "200" || size != want {
		return 0, fmt.Errorf("curl got status %s and %d bytes; want 200 and %d", f[2], size, want)
	}
	return speed, nil
}

// vmRSS returns the VmRSS line of /proc/PID/status, in KiB.
func vmRSS(status string) (float64, error) {
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				return strconv.ParseFloat(f[0], 64)
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS line in %q", tail(status, 200))
}

// tail returns at most the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
