package event

import "time"

// The facts every event answers (see Event): the flow it belongs to, when
// its news became known, and the transport it travelled over.

// Flow implements Event: the flow's ID.
func (f *Flow) Flow() uint64 { return f.ID }

// At implements Event: when the flow ended.
func (f *Flow) At() time.Time { return f.Ended }

// Net implements Event: the flow's protocol.
func (f *Flow) Net() Proto { return f.Proto }

// Flow implements Event: the flow's ID.
func (o *FlowOpen) Flow() uint64 { return o.ID }

// At implements Event: when the flow was connected.
func (o *FlowOpen) At() time.Time { return o.Time }

// Net implements Event: the flow's protocol.
func (o *FlowOpen) Net() Proto { return o.Proto }

// Flow implements Event: the flow the query travelled on, 0 for htapod's
// resolver.
func (d *DNS) Flow() uint64 { return d.FlowID }

// At implements Event: when the answer came (zero when Start is unknown).
func (d *DNS) At() time.Time {
	if d.Start.IsZero() {
		return time.Time{}
	}
	return d.Start.Add(d.Duration)
}

// Net implements Event: the query's transport.
func (d *DNS) Net() Proto { return d.Transport }

// Flow implements Event: 0, a notice belongs to no flow.
func (*Notice) Flow() uint64 { return 0 }

// At implements Event.
func (n *Notice) At() time.Time { return n.Time }

// Net implements Event: "", a notice travelled nowhere.
func (*Notice) Net() Proto { return "" }

// Flow implements Event.
func (h *HTTP) Flow() uint64 { return h.FlowID }

// At implements Event: the time of the exchange's phase — its end when
// done, its response head once there is one, else its request head.
func (h *HTTP) At() time.Time {
	switch {
	case h.Phase == PhaseDone && !h.End.IsZero():
		return h.End
	case h.Phase != PhaseRequest && !h.RespStart.IsZero():
		return h.RespStart
	}
	return h.Start
}

// Net implements Event: TCP (htapod dissects HTTP on TCP only).
func (*HTTP) Net() Proto { return TCP }

// Flow implements Event.
func (w *WebSocket) Flow() uint64 { return w.FlowID }

// At implements Event.
func (w *WebSocket) At() time.Time { return w.Time }

// Net implements Event: TCP.
func (*WebSocket) Net() Proto { return TCP }

// Flow implements Event.
func (t *TLS) Flow() uint64 { return t.FlowID }

// At implements Event.
func (t *TLS) At() time.Time { return t.Time }

// Net implements Event: TCP.
func (*TLS) Net() Proto { return TCP }

// Flow implements Event.
func (u *Unparsed) Flow() uint64 { return u.FlowID }

// At implements Event.
func (u *Unparsed) At() time.Time { return u.Time }

// Net implements Event: "" (a dissector of either transport may give up).
func (*Unparsed) Net() Proto { return "" }
