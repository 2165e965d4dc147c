package htapod

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/htapod/htapod/respond"
	"github.com/htapod/htapod/route"
)

func TestHTTPHook(t *testing.T) {
	mock, err := respond.ParseMock("~u /users=200:ada", "")
	if err != nil {
		t.Fatal(err)
	}
	// A per-flow decider as a policy would make: a 403 naming the rule
	// for a Host the connection does not allow.
	policy := func(f route.Flow) respond.Decider {
		if f.Name == "passive.test" {
			return nil
		}
		return func(r *http.Request) respond.Decision {
			if r.URL.Hostname() != f.Name {
				return respond.Decision{Action: "deny", Response: &respond.Response{Status: 403, Body: []byte("denied by rule deny *")}}
			}
			return respond.Decision{}
		}
	}
	tests := []struct {
		name   string
		opts   []Option
		flow   string // the flow's name
		url    string
		status int    // 0: forwarded
		action string // "-": no Act for the flow at all
	}{
		{"nothing configured", nil, "www.lab.test", "http://www.lab.test/users", 0, "-"},
		{"mock", []Option{WithMock(mock)}, "www.lab.test", "http://www.lab.test/users", 200, "mock"},
		{"mock misses", []Option{WithMock(mock)}, "www.lab.test", "http://www.lab.test/x", 0, ""},
		{"policy denies", []Option{WithFlowResponder(policy), WithMock(mock)}, "www.lab.test", "http://evil.test/users", 403, "deny"},
		{"policy passes, mock answers", []Option{WithFlowResponder(policy), WithMock(mock)}, "www.lab.test", "http://www.lab.test/users", 200, "mock"},
		{"policy skips the flow", []Option{WithFlowResponder(policy)}, "passive.test", "http://passive.test/", 0, "-"},
		{"responder", []Option{WithResponder(func(*http.Request) respond.Decision {
			return respond.Decision{Fault: &respond.Fault{Status: 503}, Action: "fault"}
		})}, "www.lab.test", "http://www.lab.test/", 0, "fault"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(tt.opts...)
			hook := r.cfg.act.httpHook()
			if hook == nil || hook(route.Flow{Name: tt.flow}) == nil {
				if tt.action != "-" {
					t.Fatalf("no Act for the flow; want one")
				}
				return
			}
			if tt.action == "-" {
				t.Fatalf("an Act for the flow; want none (a byte relay)")
			}
			req := httptest.NewRequest("GET", tt.url, nil)
			req.URL.Scheme, req.URL.Host = "http", req.Host
			d := hook(route.Flow{Name: tt.flow}).Decide(req)
			status := 0
			if d.Response != nil {
				status = d.Response.Status
			}
			if status != tt.status || d.Action != tt.action {
				t.Errorf("decision = %d %q; want %d %q", status, d.Action, tt.status, tt.action)
			}
		})
	}
}
