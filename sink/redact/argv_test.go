package redact

import (
	"reflect"
	"testing"

	"github.com/htapod/htapod/event"
)

func TestProcessArgv(t *testing.T) {
	p := &event.Process{PID: 7, Exe: "/usr/bin/curl",
		Argv:    []string{"curl", "-sS", "-H", "Authorization: Bearer s3cret", "-u", "me:pw", "https://x/"},
		Parents: []event.Ancestor{{PID: 1, Exe: "/bin/sh", Argv: []string{"sh", "-c", "curl --token=abc https://x/"}}}}
	got := process(p)
	want := []string{"curl", "-sS", "-H", Placeholder, "-u", Placeholder, "https://x/"}
	if !reflect.DeepEqual(got.Argv, want) {
		t.Errorf("process(p).Argv = %q; want %q", got.Argv, want)
	}
	if got.Parents[0].Argv[2] != Placeholder {
		t.Errorf("parent argv = %q; want the script redacted", got.Parents[0].Argv)
	}
	if p.Argv[3] != "Authorization: Bearer s3cret" || p.Parents[0].Argv[2] == Placeholder {
		t.Errorf("the original process was changed: %q %q", p.Argv, p.Parents[0].Argv)
	}
	plain := &event.Process{Argv: []string{"curl", "https://x/"}}
	if process(plain) != plain {
		t.Errorf("a command line without secrets was copied")
	}
	if e := processEvent(&event.Flow{Process: p}).(*event.Flow); e.Process.Argv[3] != Placeholder {
		t.Errorf("flow event's process not redacted: %q", e.Process.Argv)
	}
}
