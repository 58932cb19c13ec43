package queue

import (
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/store"
)

// Stats computes queue metrics from the event stream alone (queue.joined,
// queue.left, agent.state, whose Queues moves an agent between queues,
// agent.offer_ended). The Service feeds it every event it publishes;
// anything else holding the same events (a bus subscriber, a replay) gets
// the same numbers. docs/metrics.md gives each formula and window.
type Stats struct {
	mu          sync.Mutex
	window      time.Duration
	loc         *time.Location
	queues      map[string]*qstats
	agentQueues map[string][]string
	agents      map[string][2]string // presence, activity
	// calls counts the offers each agent answered on the day it names.
	calls map[string]dayCount
	sink  func(store.QueueRec) // new records, to keep across a restart; nil: none
}

// dayCount is a count on one day (its local midnight).
type dayCount struct {
	day time.Time
	n   int
}

type recKind uint8

const (
	recJoined recKind = iota
	recAnswered
	recAbandoned
	recExited
	recHandled
	recAgentAnswered // an agent answered an offer (rec.agent)
)

type rec struct {
	at   time.Time
	kind recKind
	d    time.Duration // wait (answered, abandoned, exited) or handle time
	// agent is who answered (recAgentAnswered).
	agent string
}

type qstats struct {
	sl      time.Duration
	waiting map[string]time.Time
	recs    []rec
	totals  Totals
}

// Totals are lifetime counters of a queue: Joined = Answered + Abandoned +
// Exited + Waiting at every moment.
type Totals struct {
	Joined    int `json:"joined"`
	Answered  int `json:"answered"`
	Abandoned int `json:"abandoned"`
	Exited    int `json:"exited"` // timeout, full, empty, exit-key, transfer
	Waiting   int `json:"waiting"`
}

// NewStats prepares counters for the configured queues and agents. Windows:
// the last `window` (sliding) and today since local midnight in loc.
func NewStats(queues map[string]config.Queue, agents []config.Agent, window time.Duration, loc *time.Location) *Stats {
	st := &Stats{window: window, loc: loc, queues: map[string]*qstats{},
		agentQueues: map[string][]string{}, agents: map[string][2]string{}, calls: map[string]dayCount{}}
	for name, q := range queues {
		st.queues[name] = &qstats{sl: q.WithDefaults().ServiceLevel, waiting: map[string]time.Time{}}
	}
	for _, a := range agents {
		for q := range a.Queues {
			st.agentQueues[a.ID] = append(st.agentQueues[a.ID], q)
		}
		st.agents[a.ID] = [2]string{string(LoggedOut), string(Idle)}
	}
	return st
}

// Apply folds one event into the counters.
func (st *Stats) Apply(e events.Event) {
	st.mu.Lock()
	defer st.mu.Unlock()
	change, isChange := e.Payload.(AgentChange)
	if e.Type == events.AgentState && isChange {
		st.agents[e.Agent] = [2]string{string(change.Presence), string(change.Activity)}
		if change.Queues != nil {
			st.agentQueues[e.Agent] = slices.Collect(maps.Keys(change.Queues))
		}
	}
	q := st.queues[e.Queue]
	if q == nil {
		return
	}
	if end, ok := e.Payload.(OfferEnd); ok && e.Type == OfferEnded && end.Result == ResultAnswered {
		// Before the callback check below: an agent's calls count every
		// offer answered, callbacks included.
		r := rec{at: e.Time, kind: recAgentAnswered, agent: e.Agent}
		q.recs = append(q.recs, r)
		st.countCall(r)
		st.save(e.Queue, e.CallID, r)
		st.prune(q, e.Time)
		return
	}
	joined, isJoined := e.Payload.(Joined)
	left, isLeft := e.Payload.(Left)
	if (isJoined && joined.Callback != "") || (isLeft && left.Callback != "") {
		// A confirmed callback's customer back in line: their call was
		// counted when they first waited (and left with the callback
		// key); the callback's outcome is the scheduler's figures. Their
		// agent's handle time still counts (agent.state).
		return
	}
	switch {
	case e.Type == events.QueueJoined && isJoined && !joined.Resumed.IsZero():
		q.waiting[e.CallID] = joined.Resumed // counted by the Service it was resumed from
	case e.Type == events.QueueJoined && isJoined:
		q.waiting[e.CallID] = e.Time
		q.totals.Joined++
		q.recs = append(q.recs, rec{at: e.Time, kind: recJoined})
		st.save(e.Queue, e.CallID, q.recs[len(q.recs)-1])
	case e.Type == events.QueueLeft && isLeft:
		delete(q.waiting, e.CallID)
		r := rec{at: e.Time, d: time.Duration(left.WaitMS) * time.Millisecond}
		switch left.Reason {
		case ReasonAnswered:
			r.kind = recAnswered
			q.totals.Answered++
		case ReasonAbandoned:
			r.kind = recAbandoned
			q.totals.Abandoned++
		default:
			r.kind = recExited
			q.totals.Exited++
		}
		q.recs = append(q.recs, r)
		st.save(e.Queue, e.CallID, r)
	case e.Type == events.AgentState && isChange && change.HandleMS != nil:
		q.recs = append(q.recs, rec{at: e.Time, kind: recHandled, d: time.Duration(*change.HandleMS) * time.Millisecond})
		st.save(e.Queue, e.CallID, q.recs[len(q.recs)-1])
	}
	st.prune(q, e.Time)
}

func (st *Stats) prune(q *qstats, now time.Time) {
	cut := now.Add(-st.window)
	if day := startOfDay(now, st.loc); day.Before(cut) {
		cut = day
	}
	i := 0
	for i < len(q.recs) && q.recs[i].at.Before(cut) {
		i++
	}
	q.recs = q.recs[i:] // amortised: append reallocates only the live tail
}

// countCall adds an agent's answered offer to their count of its day.
func (st *Stats) countCall(r rec) {
	day := startOfDay(r.at, st.loc)
	c := st.calls[r.agent]
	if !c.day.Equal(day) {
		if c.day.After(day) { // an older record (restore reads in order; be safe)
			return
		}
		c = dayCount{day: day}
	}
	c.n++
	st.calls[r.agent] = c
}

// CallsToday is the offers each agent answered since local midnight at
// now, by agent ID (agents with none are absent).
func (st *Stats) CallsToday(now time.Time) map[string]int {
	st.mu.Lock()
	defer st.mu.Unlock()
	day := startOfDay(now, st.loc)
	out := make(map[string]int, len(st.calls))
	for id, c := range st.calls {
		if c.day.Equal(day) {
			out[id] = c.n
		}
	}
	return out
}

func startOfDay(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// Window is the metrics of one queue over [From, To].
type Window struct {
	Name             string    `json:"name"` // "30m" or "today"
	From             time.Time `json:"from"`
	To               time.Time `json:"to"`
	Joined           int       `json:"joined"`
	Answered         int       `json:"answered"`
	Abandoned        int       `json:"abandoned"`
	Exited           int       `json:"exited"`
	AnsweredInSL     int       `json:"answered_within_sl"`
	AbandonedAfterSL int       `json:"abandoned_after_sl"`
	ServiceLevel     *float64  `json:"service_level"` // 0..1; null when nothing counted
	ASASeconds       float64   `json:"asa_s"`
	Handled          int       `json:"handled"`
	AHTSeconds       float64   `json:"aht_s"`
}

// QueueStats is the live state and windowed metrics of one queue.
type QueueStats struct {
	Queue              string         `json:"queue"`
	Waiting            int            `json:"waiting"`
	LongestWaitSeconds float64        `json:"longest_wait_s"`
	AgentsByPresence   map[string]int `json:"agents_by_presence"`
	AgentsByActivity   map[string]int `json:"agents_by_activity"`
	ServiceLevelTarget float64        `json:"service_level_threshold_s"`
	Windows            []Window       `json:"windows"`
	Totals             Totals         `json:"totals"`
}

// Queue returns the stats of one queue at now; ok is false for an unknown queue.
func (st *Stats) Queue(name string, now time.Time) (QueueStats, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	q, ok := st.queues[name]
	if !ok {
		return QueueStats{}, false
	}
	out := QueueStats{Queue: name, Waiting: len(q.waiting), Totals: q.totals,
		AgentsByPresence: map[string]int{}, AgentsByActivity: map[string]int{},
		ServiceLevelTarget: q.sl.Seconds()}
	out.Totals.Waiting = len(q.waiting)
	for _, since := range q.waiting {
		out.LongestWaitSeconds = max(out.LongestWaitSeconds, now.Sub(since).Seconds())
	}
	for id, qs := range st.agentQueues {
		if slices.Contains(qs, name) {
			s := st.agents[id]
			out.AgentsByPresence[s[0]]++
			out.AgentsByActivity[s[1]]++
		}
	}
	out.Windows = []Window{
		q.window("30m", now.Add(-st.window), now),
		q.window("today", startOfDay(now, st.loc), now),
	}
	out.Windows[0].Name = windowName(st.window)
	return out, true
}

// windowName is "30m" for 30 minutes, "1h" for an hour, else Duration.String.
func windowName(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	case d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	}
	return d.String()
}

func (q *qstats) window(name string, from, to time.Time) Window {
	w := Window{Name: name, From: from, To: to}
	var waitSum, handleSum time.Duration
	for _, r := range q.recs {
		if r.at.Before(from) || r.at.After(to) {
			continue
		}
		switch r.kind {
		case recJoined:
			w.Joined++
		case recAnswered:
			w.Answered++
			waitSum += r.d
			if r.d <= q.sl {
				w.AnsweredInSL++
			}
		case recAbandoned:
			w.Abandoned++
			if r.d > q.sl {
				w.AbandonedAfterSL++
			}
		case recExited:
			w.Exited++
		case recHandled:
			w.Handled++
			handleSum += r.d
		}
	}
	if d := w.Answered + w.AbandonedAfterSL; d > 0 {
		v := float64(w.AnsweredInSL) / float64(d)
		w.ServiceLevel = &v
	}
	if w.Answered > 0 {
		w.ASASeconds = (waitSum / time.Duration(w.Answered)).Seconds()
	}
	if w.Handled > 0 {
		w.AHTSeconds = (handleSum / time.Duration(w.Handled)).Seconds()
	}
	return w
}
