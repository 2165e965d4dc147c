package policy

import (
	"net/netip"
	"sort"
	"strings"
	"sync"

	"github.com/htapod/htapod/event"
)

// Query is what a decision is about: a flow's transport, destination
// address and port, and the name it goes by at this point (the name the
// command resolved, the TLS SNI, the HTTP Host), or "" when it has none.
type Query struct {
	Proto event.Proto
	Addr  netip.Addr
	Port  uint16
	Name  string
}

// Verdict is a decision.
type Verdict struct {
	Allow bool
	// Rule is the rule that decided; nil when none matched and the
	// default decided (see Policy).
	Rule *Rule
}

// Reason says in words why: the rule with its source, or the default.
func (v Verdict) Reason() string {
	if v.Rule != nil {
		return v.Rule.Describe()
	}
	if v.Allow {
		return "no rule matched (no allow rule given: allowed)"
	}
	return "no rule matched (allow rules given: the rest is denied)"
}

// matcher indexes the rules so that a decision looks at the few rules
// that can match: exact names in a map, "*.suffix" globs in a map by
// suffix (one lookup per label of the name), and address prefixes in a
// map per prefix length (one lookup per distinct length). Each list
// holds rule indexes in ascending order, so the first rule of a list
// whose transport and port fit is that list's candidate, and the lowest
// candidate over all lists is the first matching rule.
type matcher struct {
	exact, suffix map[string][]int32
	anyName       []int32
	prefixes      map[netip.Prefix][]int32
	bits4, bits6  []int // distinct prefix lengths, longest first
}

func compile(rules []Rule) *matcher {
	m := &matcher{exact: map[string][]int32{}, suffix: map[string][]int32{}, prefixes: map[netip.Prefix][]int32{}}
	seen4, seen6 := map[int]bool{}, map[int]bool{}
	for i, r := range rules {
		idx := int32(i)
		p := r.Pattern
		switch {
		case p.Host == "*":
			m.anyName = append(m.anyName, idx)
		case strings.HasPrefix(p.Host, "*."):
			m.suffix[p.Host[2:]] = append(m.suffix[p.Host[2:]], idx)
		case p.Host != "":
			m.exact[p.Host] = append(m.exact[p.Host], idx)
		case p.Prefix.IsValid():
			m.prefixes[p.Prefix] = append(m.prefixes[p.Prefix], idx)
			if p.Prefix.Addr().Is4() {
				seen4[p.Prefix.Bits()] = true
			} else {
				seen6[p.Prefix.Bits()] = true
			}
		}
	}
	for b := range seen4 {
		m.bits4 = append(m.bits4, b)
	}
	for b := range seen6 {
		m.bits6 = append(m.bits6, b)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(m.bits4)))
	sort.Sort(sort.Reverse(sort.IntSlice(m.bits6)))
	return m
}

var compileMu sync.Mutex

func (p *Policy) matcher() *matcher {
	compileMu.Lock()
	defer compileMu.Unlock()
	if p.m == nil {
		p.m = compile(p.rules)
	}
	return p.m
}

// none is "no candidate" for a rule index.
const none = int32(1<<31 - 1)

// Decide returns the verdict for q: the first rule that matches, or the
// default. A nil Policy allows everything.
func (p *Policy) Decide(q Query) Verdict {
	if p == nil || len(p.rules) == 0 {
		return Verdict{Allow: true}
	}
	m := p.matcher()
	best := none
	consider := func(list []int32) {
		for _, i := range list {
			if i >= best {
				return
			}
			if r := &p.rules[i]; (r.Pattern.Proto == "" || r.Pattern.Proto == q.Proto) &&
				(r.Pattern.Port == 0 || r.Pattern.Port == q.Port) {
				best = i
				return
			}
		}
	}
	p.eachNameList(m, normName(q.Name), consider)
	if q.Addr.IsValid() {
		a := q.Addr.Unmap()
		bits := m.bits4
		if a.Is6() {
			bits = m.bits6
		}
		for _, b := range bits {
			pre, _ := a.Prefix(b)
			consider(m.prefixes[pre])
		}
	}
	return p.verdict(best)
}

// DecideName returns the verdict for a DNS query for name: host rules
// only, and deny rules limited to a transport or port skipped (the name
// may be allowed on another port).
func (p *Policy) DecideName(name string) Verdict {
	if p == nil || len(p.rules) == 0 {
		return Verdict{Allow: true}
	}
	name = normName(name)
	m := p.matcher()
	best := none
	p.eachNameList(m, name, func(list []int32) {
		for _, i := range list {
			if i >= best {
				return
			}
			r := &p.rules[i]
			if r.Action == Deny && (r.Pattern.Proto != "" || r.Pattern.Port != 0) {
				continue
			}
			best = i
			return
		}
	})
	return p.verdict(best)
}

// eachNameList calls fn with the rule lists whose host pattern matches name.
func (p *Policy) eachNameList(m *matcher, name string, fn func([]int32)) {
	if name == "" {
		return
	}
	if len(m.anyName) > 0 {
		fn(m.anyName)
	}
	if l := m.exact[name]; l != nil {
		fn(l)
	}
	if len(m.suffix) == 0 {
		return
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '.' {
			if l := m.suffix[name[i+1:]]; l != nil {
				fn(l)
			}
		}
	}
}

func (p *Policy) verdict(best int32) Verdict {
	if best == none {
		return Verdict{Allow: !p.hasAllow}
	}
	r := &p.rules[best]
	return Verdict{Allow: r.Action == Allow, Rule: r}
}

// normName is name lower-case without a final dot (no copy when it is
// already so).
func normName(name string) string {
	return strings.TrimSuffix(strings.ToLower(name), ".")
}

// HostsMayDeny says whether some HTTP Host (or TLS name) could be denied
// on a connection to q's address, port and transport — whether a caller
// must look at each request's Host at all. It is false when an address
// rule allows the connection and no host rule before it denies: every
// name is then allowed there. q.Name is ignored.
func (p *Policy) HostsMayDeny(q Query) bool {
	if p == nil || len(p.rules) == 0 {
		return false
	}
	q.Name = ""
	first := len(p.rules)
	if v := p.Decide(q); v.Rule != nil {
		first = int(v.Rule.index(p))
		if !v.Allow {
			return true // the address itself is denied
		}
	} else if p.hasAllow {
		return true // no address rule: a name that no rule allows is denied
	}
	for i := 0; i < first; i++ {
		r := &p.rules[i]
		if r.Action == Deny && r.Pattern.Host != "" &&
			(r.Pattern.Proto == "" || r.Pattern.Proto == q.Proto) &&
			(r.Pattern.Port == 0 || r.Pattern.Port == q.Port) {
			return true
		}
	}
	return false
}

// index is r's position in p's rules (r points into them).
func (r *Rule) index(p *Policy) int32 {
	for i := range p.rules {
		if &p.rules[i] == r {
			return int32(i)
		}
	}
	return int32(len(p.rules))
}
