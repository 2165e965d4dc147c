package htapod

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/internal/tlsmitm"
)

// trustNotices are the notices that say which trust stores of the box
// were given the run's CA, and which could not be: level "debug" (the text
// report shows them with -v; JSON always).
func trustNotices(t *tlsmitm.Trust) []event.Event {
	now := time.Now()
	out := []event.Event{&event.Notice{Time: now, Level: "debug",
		Message: "trust: the CA is in " + strings.Join(t.Stores, ", ")}}
	for _, s := range t.Skipped {
		out = append(out, &event.Notice{Time: now, Level: "debug", Message: "trust: not prepared: " + s})
	}
	return out
}

// refusals collects, over a run, the servers (by SNI) for which the
// command refused htapod's certificate, to say at the end what to do.
// Safe for concurrent use.
type refusals struct {
	mu    sync.Mutex
	hosts []string
	seen  map[string]bool
	trust *tlsmitm.Trust // set when the trust files are written
}

// observe notes e when it is a TLS flow whose client refused the CA.
func (r *refusals) observe(e event.Event) {
	t, ok := e.(*event.TLS)
	if !ok || !tlsmitm.IsClientRefusal(t.Err) {
		return
	}
	host := t.SNI
	if host == "" {
		host = "(no SNI)"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	if !r.seen[host] {
		r.seen[host] = true
		r.hosts = append(r.hosts, host)
	}
}

// setTrust records the run's trust stores, for the fixes.
func (r *refusals) setTrust(t *tlsmitm.Trust) {
	r.mu.Lock()
	r.trust = t
	r.mu.Unlock()
}

// notice is the end-of-run warning, or nil when no client refused.
func (r *refusals) notice() event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.hosts) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "a client refused htapod's certificate for %s: it trusts only a store of its own "+
		"(htapod -v lists the stores given the CA) or pins certificates", strings.Join(r.hosts, ", "))
	if r.trust != nil {
		for _, s := range r.trust.Skipped {
			fmt.Fprintf(&b, "; not prepared: %s", s)
		}
	}
	b.WriteString(". Give it the run's bundle, $SSL_CERT_FILE in the box (curl --cacert, " +
		"Java -Djavax.net.ssl.trustStore, git http.sslCAInfo, pip.conf cert, .npmrc cafile), or leave the host alone: ")
	for i, h := range r.hosts {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString("--passthrough " + h)
	}
	return &event.Notice{Time: time.Now(), Level: "warn", Message: b.String()}
}

// trustCheck is doctor's look at the trust stores: it writes a run's trust
// files for a throwaway CA into a temporary directory (removed after) and
// says which stores would take the CA, and what keeps others from it.
func trustCheck() Check {
	c := Check{Name: "trust stores"}
	a, err := tlsmitm.NewAuthority()
	if err != nil {
		c.Detail = err.Error()
		return c
	}
	dir, err := os.MkdirTemp("", "htapod-doctor-")
	if err != nil {
		c.Detail = err.Error()
		return c
	}
	defer os.RemoveAll(dir)
	t, err := tlsmitm.WriteTrust(a, dir, os.Environ())
	if err != nil {
		c.Detail = err.Error()
		return c
	}
	c.OK = len(t.Skipped) == 0
	c.Detail = "the CA would go to: " + strings.Join(t.Stores, ", ")
	c.Fix = strings.Join(t.Skipped, "\n")
	if _, err := exec.LookPath("certutil"); err != nil {
		c.Detail += "; no certutil (libnss3-tools): needed for Chromium only where it has no policy directory"
	}
	return c
}
