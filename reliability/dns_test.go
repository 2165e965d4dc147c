package reliability

import (
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/htapod/htapod/internal/lab"
)

// TestDNSQueries sends 10,000 queries through htapod's resolver, 32 at a
// time, from a client that finds the resolver the way every program does
// (/etc/resolv.conf in the box): names with addresses, a CNAME, MX, TXT,
// PTR, unique names that do not exist, a name only the hosts file knows,
// a SERVFAIL and an answer too big for UDP. Every answer must be right,
// and htapod must report every query.
func TestDNSQueries(t *testing.T) {
	e := newEnv(t)
	const n = 10000
	events := e.path("events.jsonl")
	served := e.DNS().Queries()
	res := e.runTap(3*time.Minute, lab.RunOptions{}, []string{"--json", "-o", events},
		e.client, "dns", "-n", strconv.Itoa(n), "-par", "32", "-limit", "150s")
	f := wantFields(t, res, "dns")
	if res.ExitCode != 0 || atoi(f["ok"]) != n {
		t.Fatalf("htapod -- relclient dns -n %d: %v", n, res)
	}
	t.Logf("%d queries through htapod's resolver (%s) in %s: %s retried after a 2 s timeout, %s over TCP; "+
		"the lab's server got %d", n, f["server"], f["elapsed"], f["retries"], f["tcp"], e.DNS().Queries()-served)

	evs, err := readJSONLines(events)
	if err != nil {
		t.Fatalf("htapod's JSON: %v", err)
	}
	answered := 0
	names := map[string]bool{}
	for _, ev := range evs {
		if ev.str("type") == "dns" && ev["flow"] == nil {
			answered++
			names[ev.str("name")] = true
		}
	}
	if answered < n {
		t.Errorf("htapod reported %d queries to its resolver; want at least %d", answered, n)
	}
	missing := 0
	for i := range n {
		if q := dnsCaseFor(i); q.rcode == dns.RcodeNameError && !names[q.name] {
			if missing++; missing <= 5 {
				t.Errorf("htapod did not report the query for %s", q.name)
			}
		}
	}
	if missing > 5 {
		t.Errorf("… and %d more unique names", missing-5)
	}
}
