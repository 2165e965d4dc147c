package policy

import (
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/route"
)

// recorder keeps the events it is handed.
type recorder struct {
	mu      sync.Mutex
	evs     []*event.Policy
	notices []string
}

func (r *recorder) handle(e event.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e := e.(type) {
	case *event.Policy:
		r.evs = append(r.evs, e)
	case *event.Notice:
		r.notices = append(r.notices, e.Level+": "+e.Message)
	}
}

func TestEnforcer(t *testing.T) {
	proc := &event.Process{PID: 7, Exe: "/usr/bin/curl"}
	allowed := route.Flow{ID: 1, Proto: event.TCP, Dst: netip.MustParseAddrPort("203.0.113.10:443"), Name: "www.lab.test", Process: proc}
	denied := route.Flow{ID: 2, Proto: event.TCP, Dst: netip.MustParseAddrPort("203.0.113.20:7"), Process: proc}
	sni := allowed
	sni.SNI = "evil.test"
	host := allowed
	host.Host = "api.lab.test:443"
	// A flow to an address no lookup gave (curl --resolve): its SNI is
	// fronting only when that name was looked up and answered elsewhere.
	unnamed := allowed
	unnamed.Name, unnamed.SNI = "", "never.lab.test"
	elsewhere := unnamed
	elsewhere.SNI = "moved.lab.test"
	tests := []struct {
		name    string
		audit   bool
		fronts  bool
		flow    route.Flow
		action  route.Action
		ev      bool // an event.Policy is emitted
		fronted string
	}{
		{"allowed by name", false, false, allowed, route.ForwardWithTLS, false, ""},
		{"denied address", false, false, denied, route.Deny, true, ""},
		{"audit lets it go", true, false, denied, route.ForwardWithTLS, true, ""},
		{"denied SNI", false, false, sni, route.Deny, true, "www.lab.test"},
		{"fronting reported", false, false, host, route.ForwardWithTLS, true, "www.lab.test"},
		{"fronting denied", false, true, host, route.Deny, true, "www.lab.test"},
		{"name never looked up", false, true, unnamed, route.ForwardWithTLS, false, ""},
		{"name resolved elsewhere", false, true, elsewhere, route.Deny, true, "203.0.113.10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			e := &Enforcer{Policy: mustParse(t, "allow *.lab.test\n"), Audit: tt.audit, DenyFronting: tt.fronts,
				Events: rec.handle, Resolved: func(name string, addr netip.Addr) bool { return name == "www.lab.test" },
				Known: func(name string) bool { return name == "www.lab.test" || name == "moved.lab.test" }}
			d := e.Route(tt.flow)
			if d.Action != tt.action {
				t.Errorf("Route = %v; want %v", d.Action, tt.action)
			}
			if got := len(rec.evs) > 0; got != tt.ev {
				t.Fatalf("events = %d; want some: %v", len(rec.evs), tt.ev)
			}
			// A name that could not be checked for fronting says so, for -v.
			wantNotice := tt.flow.SNI == "never.lab.test"
			if len(rec.notices) != 0 != wantNotice ||
				wantNotice && rec.notices[0] != "debug: tls name never.lab.test on 203.0.113.10:443: not resolved through htapod, not checked for domain fronting" {
				t.Errorf("notices = %q; want one only for a name never looked up", rec.notices)
			}
			if tt.ev {
				ev := rec.evs[0]
				if ev.FlowID != tt.flow.ID || ev.Process != proc || ev.Audit != tt.audit || ev.Fronting != tt.fronted {
					t.Errorf("event = %+v", ev)
				}
				var r Report
				r.Handle(ev)
				if ev.Denied != r.Denied() || ev.Denied != (len(r.Denials()) > 0) {
					t.Errorf("Report Denials() = %+v for event %+v", r.Denials(), ev)
				}
			}
		})
	}
}

func TestEnforcerDNS(t *testing.T) {
	var r Report
	e := &Enforcer{Policy: mustParse(t, "allow *.lab.test\n"), Events: r.Handle}
	server := netip.MustParseAddrPort("10.0.85.1:53")
	if ok, _ := e.AllowDNS("www.lab.test.", server, event.UDP, nil); !ok {
		t.Errorf("AllowDNS(www.lab.test) = false")
	}
	for i := 0; i < 3; i++ {
		if ok, rule := e.AllowDNS("evil.test.", server, event.UDP, nil); ok || rule == "" {
			t.Errorf("AllowDNS(evil.test) = %v, %q; want denied with a reason", ok, rule)
		}
	}
	ds := r.Denials()
	if len(ds) != 1 || ds[0].Count != 3 || ds[0].What() != "evil.test" || ds[0].Stage != event.StageDNS {
		t.Errorf("Denials() = %+v; want evil.test three times", ds)
	}
	e.Audit = true
	if ok, _ := e.AllowDNS("evil.test", server, event.TCP, nil); !ok {
		t.Errorf("audit: AllowDNS = false; want true")
	}
}

func TestEnforcerCheckHost(t *testing.T) {
	var r Report
	e := &Enforcer{Policy: mustParse(t, "allow *.lab.test\n"), Events: r.Handle}
	f := route.Flow{ID: 3, Proto: event.TCP, Dst: netip.MustParseAddrPort("203.0.113.10:80"), Name: "www.lab.test"}
	if denied, _ := e.CheckHost(f, "api.lab.test:80"); denied {
		t.Errorf("CheckHost(api.lab.test) denied")
	}
	denied, rule := e.CheckHost(f, "evil.example")
	if !denied || !strings.Contains(rule, "no rule matched") {
		t.Errorf("CheckHost(evil.example) = %v, %q; want denied by the default", denied, rule)
	}
	if ds := r.Denials(); len(ds) != 1 || ds[0].Stage != event.StageHTTP || ds[0].Name != "evil.example" {
		t.Errorf("Denials() = %+v; want evil.example at http", ds)
	}
}
