package httpact

import (
	"sync"

	"github.com/htapod/htapod/event"
)

// Marks carries the action of each exchange of one flow from Serve,
// which decides it, to the flow's HTTP events, which the dissector makes
// from the bytes: Wrap sets event.HTTP.Action. HTTP/1 exchanges are
// matched by their sequence number; HTTP/2 streams (whose IDs the server
// side does not expose) by method and path, first come first served. Its
// methods are safe for concurrent use.
type Marks struct {
	mu  sync.Mutex
	seq map[uint32]string
	h2  map[string][]string
}

// NewMarks returns empty Marks.
func NewMarks() *Marks {
	return &Marks{seq: map[uint32]string{}, h2: map[string][]string{}}
}

func (m *Marks) h1(seq uint32, action string) {
	if m == nil || action == "" {
		return
	}
	m.mu.Lock()
	m.seq[seq] = action
	m.mu.Unlock()
}

func (m *Marks) stream(method, path, action string) {
	if m == nil {
		return
	}
	k := method + " " + path
	m.mu.Lock()
	m.h2[k] = append(m.h2[k], action)
	m.mu.Unlock()
}

// Wrap returns a handler that labels the HTTP events of the flow and
// passes every event on to next.
func (m *Marks) Wrap(next event.Handler) event.Handler {
	return func(e event.Event) {
		if h, ok := e.(*event.HTTP); ok {
			h.Action = m.action(h)
		}
		next(e)
	}
}

func (m *Marks) action(h *event.HTTP) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if h.Proto != "h2" && h.Proto != "h2c" {
		a := m.seq[h.Seq]
		if h.Phase == event.PhaseDone {
			delete(m.seq, h.Seq)
		}
		return a
	}
	k := h.Method + " " + h.Path
	q := m.h2[k]
	if len(q) == 0 {
		return ""
	}
	a := q[0]
	if h.Phase == event.PhaseDone {
		if len(q) == 1 {
			delete(m.h2, k)
		} else {
			m.h2[k] = q[1:]
		}
	}
	return a
}
