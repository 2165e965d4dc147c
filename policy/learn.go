package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/htapod/htapod/event"
)

// Learner collects what a run contacted, to write it as a policy: the
// name the command resolved with the port for each connected flow, or the
// address when it had no name. Its Handle is an event handler; it is safe
// for concurrent use.
type Learner struct {
	mu      sync.Mutex
	entries map[Pattern]*learned
}

type learned struct {
	flows int
	first *event.Process
}

// Handle records a connected flow (event.FlowOpen); other events are
// ignored. A flow that was denied never opens, so it is not learned;
// with audit mode every flow opens.
func (l *Learner) Handle(e event.Event) {
	fo, ok := e.(*event.FlowOpen)
	if !ok || fo == nil {
		return
	}
	p := Pattern{Proto: fo.Proto, Port: fo.Dst.Port()}
	if fo.Name != "" {
		p.Host = normName(fo.Name)
	} else {
		a := fo.Dst.Addr().Unmap()
		p.Prefix = netip.PrefixFrom(a, a.BitLen())
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.entries == nil {
		l.entries = map[Pattern]*learned{}
	}
	en := l.entries[p]
	if en == nil {
		en = &learned{first: fo.Process}
		l.entries[p] = en
	}
	en.flows++
}

// learnHeader opens a policy file the Learner writes anew.
const learnHeader = `# htapod policy, learned with --learn: use it with --policy FILE.
# One rule a line, "allow" or "deny" and a pattern; the first rule that
# matches decides, and what no rule allows is denied. Edit freely: a later
# --learn into this file keeps what is here and adds what is new below.
`

// Write merges what was learned into the policy file at path: the file's
// own text is kept as it is, and an allow rule is appended for each
// destination that its rules do not decide yet (what they deny stays
// denied), sorted, each with a comment (how many flows, the first
// process). A missing file is created. It returns the number of rules
// added. The file is replaced atomically.
func (l *Learner) Write(path string) (added int, err error) {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("read policy %s: %w", path, err)
	}
	existing := New()
	if err := existing.Parse(path, bytes.NewReader(old)); err != nil {
		return 0, err
	}
	var b bytes.Buffer
	if len(old) == 0 {
		b.WriteString(learnHeader)
	} else {
		b.Write(old)
		if old[len(old)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	for _, line := range l.newRules(existing) {
		b.WriteString(line)
		added++
	}
	if added == 0 && len(old) > 0 {
		return 0, nil
	}
	return added, writeAtomic(path, b.Bytes())
}

// newRules returns the commented rule lines for what existing does not
// decide: names first, then addresses, each by name or address, port and
// transport.
func (l *Learner) newRules(existing *Policy) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	pats := make([]Pattern, 0, len(l.entries))
	for p := range l.entries {
		pats = append(pats, p)
	}
	sort.Slice(pats, func(i, j int) bool { return lessPattern(pats[i], pats[j]) })
	var out []string
	for _, p := range pats {
		en := l.entries[p]
		q := Query{Proto: p.Proto, Port: p.Port, Name: p.Host}
		if p.Prefix.IsValid() {
			q.Addr = p.Prefix.Addr()
		}
		if existing.Decide(q).Rule != nil {
			continue
		}
		flows := "1 flow"
		if en.flows != 1 {
			flows = fmt.Sprintf("%d flows", en.flows)
		}
		out = append(out, fmt.Sprintf("# %s, first by %s\nallow %s\n", flows, describeProcess(en.first), p))
	}
	return out
}

func lessPattern(a, b Pattern) bool {
	if (a.Host == "") != (b.Host == "") {
		return a.Host != ""
	}
	if a.Host != b.Host {
		return a.Host < b.Host
	}
	if a.Prefix != b.Prefix {
		return a.Prefix.Addr().Less(b.Prefix.Addr())
	}
	if a.Port != b.Port {
		return a.Port < b.Port
	}
	return a.Proto < b.Proto
}

// describeProcess is a process in a comment: its chain, cut short.
func describeProcess(p *event.Process) string {
	if p == nil {
		return "an unknown process"
	}
	s := p.Chain()
	if p.PID != 0 {
		s += fmt.Sprintf(" (pid %d)", p.PID)
	}
	if r := []rune(s); len(r) > 120 {
		s = string(r[:119]) + "…"
	}
	return strings.ReplaceAll(s, "\n", " ")
}

func writeAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".htapod-policy-*")
	if err != nil {
		return fmt.Errorf("write policy: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write policy: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write policy: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write policy: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write policy: %w", err)
	}
	return nil
}
