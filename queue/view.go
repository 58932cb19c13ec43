package queue

// The live view of the queues (GET /api/v1/queues in package api, the
// wallboard): who waits where, in service order, with the stats.

import (
	"fmt"
	"slices"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/store"
)

// Waiter is one caller in a queue's live view.
type Waiter struct {
	CallID        string     `json:"call_id"`
	Tier          store.Tier `json:"tier"`
	WaitedSeconds float64    `json:"waited_s"`
	Ringing       bool       `json:"ringing"`
	// Callback is set for a callback holding its place ("callback:42",
	// WaitedSeconds from the original join) and for a confirmed callback
	// customer back in line (CallID is their call).
	Callback string `json:"callback,omitempty"`
	// Dialling: the callback's turn came; its customer is being called.
	Dialling bool `json:"dialling,omitempty"`
}

// QueueView is GET /queues/{name}: configuration summary, the first callers
// in priority order and the event-fed stats.
type QueueView struct {
	Name     string          `json:"name"`
	Strategy config.Strategy `json:"strategy"`
	Callers  []Waiter        `json:"callers"` // first MaxListed in service order
	// Members are the queue's agents now (configured, or changed at run
	// time: SetMember, RemoveMember), by ID.
	Members []Member `json:"members"`
	QueueStats
	// EWTSeconds is the estimated wait of a caller joining now (position
	// waiting + 1, docs/metrics.md "EWT"); null when unknown.
	EWTSeconds *float64 `json:"ewt_s"`
	// Alerts are the thresholds the queue is past (alerts.go); Thresholds
	// are the queue's configured ones (queues.<name>.alerts).
	Alerts     []Alert            `json:"alerts"`
	Thresholds config.QueueAlerts `json:"alert_thresholds"`
}

// MaxListed bounds the callers listed in a QueueView.
const MaxListed = 100

// Queue returns one queue's live view.
func (s *Service) Queue(name string) (QueueView, error) {
	s.mu.Lock()
	q, ok := s.queues[name]
	if !ok {
		s.mu.Unlock()
		return QueueView{}, fmt.Errorf("queue %q: %w", name, ErrUnknownQueue)
	}
	now := s.cfg.Now()
	v := QueueView{Name: name, Strategy: q.cfg.Strategy, Callers: []Waiter{}, Members: make([]Member, 0, len(q.members))}
	for _, a := range q.members {
		v.Members = append(v.Members, Member{Agent: a.cfg.ID, Penalty: a.queues[name]})
	}
	for _, e := range q.waiting.head(MaxListed) {
		w := Waiter{CallID: e.callID, Tier: e.tier, WaitedSeconds: now.Sub(e.placed).Seconds(), Ringing: len(e.offers) > 0,
			Callback: e.rejoin}
		if e.cb != nil {
			w.Callback, w.Dialling = e.cb.key, e.cb.state == cbDialling
		}
		v.Callers = append(v.Callers, w)
	}
	if p := s.position(q, q.waiting.len()+1); p.Known {
		ewt := p.EWT.Seconds()
		v.EWTSeconds = &ewt
	}
	v.Thresholds = q.cfg.Alerts
	s.mu.Unlock()
	v.QueueStats, _ = s.stats.Queue(name, now)
	v.Alerts = s.alerts.current(name)
	return v, nil
}

// Queues returns every queue's live view, by name.
func (s *Service) Queues() []QueueView {
	s.mu.Lock()
	names := make([]string, 0, len(s.queues))
	for n := range s.queues {
		names = append(names, n)
	}
	s.mu.Unlock()
	slices.Sort(names)
	out := make([]QueueView, 0, len(names))
	for _, n := range names {
		if v, err := s.Queue(n); err == nil {
			out = append(out, v)
		}
	}
	return out
}
