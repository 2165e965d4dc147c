package redact

import (
	"reflect"
	"testing"

	"github.com/htapod/htapod/event"
)

func TestEvent(t *testing.T) {
	in := &event.HTTP{
		Path: "/login?user=ada&token=s3cret&x=1",
		ReqHeader: []event.Header{{Name: "Cookie", Value: "sid=abc; theme=dark"}, {Name: "Authorization", Value: "Bearer eyJhbGci"},
			{Name: "X-Api-Key", Value: "k-123"}, {Name: "Accept", Value: "*/*"}},
		RespHeader: []event.Header{{Name: "Set-Cookie", Value: "sid=def; Path=/; HttpOnly"}, {Name: "Content-Type", Value: "application/json"}},
		ReqBody:    event.Body{Data: []byte(`{"password":"hunter2","user":"ada"}`)},
		RespBody:   event.Body{Data: []byte(`{"ok":true}`)},
	}
	orig := *in
	origHeader := append([]event.Header(nil), in.ReqHeader...)
	tests := []struct {
		name     string
		patterns []string
		want     event.HTTP
	}{
		{"defaults", nil, event.HTTP{
			Path: in.Path,
			ReqHeader: []event.Header{{Name: "Cookie", Value: "sid=REDACTED; theme=REDACTED"}, {Name: "Authorization", Value: "Bearer REDACTED"},
				{Name: "X-Api-Key", Value: "k-123"}, {Name: "Accept", Value: "*/*"}},
			RespHeader: []event.Header{{Name: "Set-Cookie", Value: "sid=REDACTED; Path=/; HttpOnly"}, {Name: "Content-Type", Value: "application/json"}},
			ReqBody:    in.ReqBody, RespBody: in.RespBody}},
		{"more", []string{"header:x-api-key", "param:token", `body:"password":"[^"]*"`}, event.HTTP{
			Path: "/login?user=ada&token=REDACTED&x=1",
			ReqHeader: []event.Header{{Name: "Cookie", Value: "sid=REDACTED; theme=REDACTED"}, {Name: "Authorization", Value: "Bearer REDACTED"},
				{Name: "X-Api-Key", Value: "REDACTED"}, {Name: "Accept", Value: "*/*"}},
			RespHeader: []event.Header{{Name: "Set-Cookie", Value: "sid=REDACTED; Path=/; HttpOnly"}, {Name: "Content-Type", Value: "application/json"}},
			ReqBody:    event.Body{Data: []byte(`{REDACTED,"user":"ada"}`)}, RespBody: in.RespBody}},
		{"bare name", []string{"user"}, event.HTTP{
			Path: "/login?user=REDACTED&token=s3cret&x=1",
			ReqHeader: []event.Header{{Name: "Cookie", Value: "sid=REDACTED; theme=REDACTED"}, {Name: "Authorization", Value: "Bearer REDACTED"},
				{Name: "X-Api-Key", Value: "k-123"}, {Name: "Accept", Value: "*/*"}},
			RespHeader: []event.Header{{Name: "Set-Cookie", Value: "sid=REDACTED; Path=/; HttpOnly"}, {Name: "Content-Type", Value: "application/json"}},
			ReqBody:    in.ReqBody, RespBody: in.RespBody}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(tt.patterns...)
			if err != nil {
				t.Fatal(err)
			}
			got := r.Event(in).(*event.HTTP)
			if got.Path != tt.want.Path || !reflect.DeepEqual(got.ReqHeader, tt.want.ReqHeader) ||
				!reflect.DeepEqual(got.RespHeader, tt.want.RespHeader) || string(got.ReqBody.Data) != string(tt.want.ReqBody.Data) ||
				string(got.RespBody.Data) != string(tt.want.RespBody.Data) {
				t.Errorf("Event = %+v\nwant %+v", *got, tt.want)
			}
			if !reflect.DeepEqual(in.ReqHeader, origHeader) || in.Path != orig.Path {
				t.Errorf("Event changed its input")
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	for _, p := range []string{"body:(", "header:", "cookie:x"} {
		if _, err := New(p); err == nil {
			t.Errorf("New(%q) = nil error; want one", p)
		}
	}
}
