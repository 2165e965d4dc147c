package htapod

import (
	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/filter"
)

// WithFilter keeps only the events that f matches in the report and in
// the JSON and HAR outputs (OnEvent handlers see everything). A flow's own
// line is kept when any event of the flow matched; notices always pass.
func WithFilter(f *filter.Filter) Option { return func(c *config) { c.filter = f } }

// maxKeptFlows bounds the flows a filter remembers as matched.
const maxKeptFlows = 1 << 16

// filtered returns h wrapped by the run's filter, or h when there is none.
// Request heads are held back when the filter needs a finished exchange to
// decide (a status, a body): the exchange is then decided, and shown, at
// its done event.
func filtered(f *filter.Filter, h event.Handler) event.Handler {
	if f == nil {
		return h
	}
	flows := filter.NewFlowSet(f, maxKeptFlows)
	holdHeads := f.NeedsDone()
	return func(e event.Event) {
		switch e := e.(type) {
		case *event.Notice, *event.Unparsed:
			h(e)
		case *event.Flow:
			keep := flows.Keep(e.ID) || f.Match(e)
			flows.Forget(e.ID)
			if keep {
				h(e)
			}
		case *event.HTTP:
			if holdHeads && e.Phase != event.PhaseDone {
				return
			}
			if flows.Observe(e) {
				h(e)
			}
		default:
			if flows.Observe(e) {
				h(e)
			}
		}
	}
}
