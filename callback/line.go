package callback

import (
	"context"
	"slices"
	"time"

	"github.com/hotline-dev/hotline/jobs"
	"github.com/hotline-dev/hotline/store"
)

// entry is one open callback in memory.
type entry struct {
	cb   store.Callback
	q    *line
	rank time.Time
	// inLine: due, offered to the ACD, in q.due.
	inLine bool
	// busy: a database write for it is in flight (a claim, a change, an
	// expiry); nothing else may start one.
	busy bool
	// suspect: a claim's commit outcome is unknown; it is resolved
	// against the database before the callback may be dialled again.
	suspect bool
	dial    *dialling // the attempt in flight
	t       timer     // its wake-up: due, expiry, a retry of a failed write
	backoff time.Duration
}

type dialling struct {
	attempt int
	cancel  context.CancelFunc
}

func (e *entry) less(o *entry) int {
	if c := e.rank.Compare(o.rank); c != 0 {
		return c
	}
	if c := e.cb.JoinedAt.Compare(o.cb.JoinedAt); c != 0 {
		return c
	}
	switch {
	case e.cb.ID < o.cb.ID:
		return -1
	case e.cb.ID > o.cb.ID:
		return 1
	}
	return 0
}

func (e *entry) waiting() Waiting {
	return Waiting{ID: e.cb.ID, Queue: e.cb.Queue, Number: e.cb.Number, Mode: e.cb.Mode, Attempt: e.cb.Attempts + 1,
		Place: Place{Tier: e.cb.Tier, JoinedAt: e.cb.JoinedAt, Rank: e.rank}, TicketID: e.cb.TicketID, Language: e.cb.Language}
}

// line is one queue's callbacks: those due, in order, and today's count of
// those that ended.
type line struct {
	set      *settings
	due      []*entry // in line, by (rank, joined_at, id)
	inFlight int      // callbacks with an attempt in flight (claiming, dialling, connected)
	ended    map[store.CallbackState]int
	day      time.Time // the start of the day ended counts
	close    timer     // when the calendar closes next
}

func newLine(set *settings) *line {
	l := &line{set: set, ended: map[store.CallbackState]int{}}
	l.close.V.line = l
	return l
}

func (l *line) insert(e *entry) {
	i, _ := slices.BinarySearchFunc(l.due, e, (*entry).less)
	l.due = slices.Insert(l.due, i, e)
	e.inLine = true
}

func (l *line) remove(e *entry) {
	if !e.inLine {
		return
	}
	if i, ok := slices.BinarySearchFunc(l.due, e, (*entry).less); ok {
		l.due = slices.Delete(l.due, i, i+1)
	}
	e.inLine = false
}

// timer is one wake-up in the scheduler's heap: an entry's or a line's
// (its calendar closing).
// timer is an entry's or a line's wake-up in the scheduler's heap
// (jobs.Timers, shared with the webhook deliverer).
type timer = jobs.Timer[wakeup]

// wakeup says whose timer it is: an entry's (due, expiry, a retry) or a
// line's (its calendar closes).
type wakeup struct {
	entry *entry
	line  *line
}

type timers = jobs.Timers[wakeup]
