package relay

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/htapod/htapod/event"
)

var errPanic = errors.New("dissector panicked")

func panicText(r any) string {
	s := fmt.Sprint(r)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// dialEnd classifies a dial error by what the command should see.
func dialEnd(err error) event.End {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return event.Refused
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.EADDRNOTAVAIL):
		return event.Unreachable
	case errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, os.ErrDeadlineExceeded),
		errors.Is(err, context.DeadlineExceeded):
		return event.Timeout
	}
	return event.Failed
}

// errText is the short form of a flow's error: the system's word for it
// ("network is unreachable") when there is one, not the whole chain.
func errText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}
