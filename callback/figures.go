package callback

import (
	"sort"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// Figures are one queue's callbacks for the wallboard: open ones by
// status now, ended ones today (in the queue calendar's time zone), and
// the oldest waiting in line.
type Figures struct {
	Queue     string `json:"queue"`
	Scheduled int    `json:"scheduled"`
	Waiting   int    `json:"waiting"`
	Dialling  int    `json:"dialling"`
	Connected int    `json:"connected"`
	Completed int    `json:"completed"`
	Failed    int    `json:"failed"`
	Expired   int    `json:"expired"`
	Cancelled int    `json:"cancelled"`
	// Oldest is the callback in line whose caller joined first (nil: none
	// in line); its wait is counted from that original join time.
	Oldest *Oldest `json:"oldest_waiting,omitempty"`
}

// Oldest is the longest-waiting callback of a queue.
type Oldest struct {
	ID          int64     `json:"id"`
	JoinedAt    time.Time `json:"joined_at"`
	WaitSeconds float64   `json:"wait_seconds"`
}

// Figures returns every queue's figures, by queue name.
func (s *Scheduler) Figures() []Figures {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	by := map[*line]*Figures{}
	out := make([]Figures, 0, len(s.lines))
	names := make([]string, 0, len(s.lines))
	for name := range s.lines {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		l := s.lines[name]
		s.rollDay(l, now)
		out = append(out, Figures{Queue: name, Completed: l.ended[store.CallbackCompleted], Failed: l.ended[store.CallbackFailed],
			Expired: l.ended[store.CallbackExpired], Cancelled: l.ended[store.CallbackCancelled]})
	}
	for i := range out {
		by[s.lines[out[i].Queue]] = &out[i]
	}
	for _, e := range s.entries {
		f := by[e.q]
		switch s.statusOf(e) {
		case StatusScheduled:
			f.Scheduled++
		case StatusWaiting:
			f.Waiting++
			if f.Oldest == nil || e.cb.JoinedAt.Before(f.Oldest.JoinedAt) {
				f.Oldest = &Oldest{ID: e.cb.ID, JoinedAt: e.cb.JoinedAt}
			}
		case Status(store.CallbackDialling):
			f.Dialling++
		case Status(store.CallbackConnected):
			f.Connected++
		}
	}
	for i := range out {
		if o := out[i].Oldest; o != nil {
			o.WaitSeconds = now.Sub(o.JoinedAt).Seconds()
		}
	}
	return out
}

// QueueFigures returns one queue's figures; ok false for a queue without
// callbacks configured or seen.
func (s *Scheduler) QueueFigures(queue string) (Figures, bool) {
	for _, f := range s.Figures() {
		if f.Queue == queue {
			return f, true
		}
	}
	return Figures{}, false
}
