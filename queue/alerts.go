package queue

// Wallboard alerts (queues.<name>.alerts, docs/wallboard.md "Alerts"): the
// service evaluates each queue's thresholds against its own live view, the
// view carries the alerts in force, and each change of level is one
// queue.alert event on the bus. Evaluating here, not in the browser, gives
// every board, script and API client the same alerts at the same moment.

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
)

// QueueAlert is the event a change of one of a queue's alerts raises;
// its Payload is an AlertChange.
const QueueAlert = "queue.alert"

// Alert kinds: the config key whose threshold raised it.
const (
	AlertLongestWait  = "longest_wait"
	AlertServiceLevel = "service_level"
	AlertNoAgents     = "no_agents_while_waiting"
)

// Alert levels. LevelOK is only ever in an AlertChange (the alert cleared).
const (
	LevelOK    = "ok"
	LevelAmber = "amber"
	LevelRed   = "red"
)

// amberShare is where amber starts: at 75 % of a "too high" threshold, and
// a quarter of the way from a "too low" target to perfect.
const amberShare = 0.75

// Alert is one threshold a queue is past, as the queue view lists it.
type Alert struct {
	Kind   string    `json:"kind"`
	Level  string    `json:"level"` // amber or red
	Since  time.Time `json:"since"` // when it reached this level
	Detail string    `json:"detail"`
}

// AlertChange is the payload of queue.alert: one kind's level changed.
type AlertChange struct {
	Queue    string    `json:"queue"`
	Kind     string    `json:"kind"`
	Level    string    `json:"level"`    // ok (cleared), amber or red
	Previous string    `json:"previous"` // the level before
	Since    time.Time `json:"since"`
	Detail   string    `json:"detail"`
}

// alertBook is the alerts in force, by queue; eval serialises evaluations
// so each change is published once, in order.
type alertBook struct {
	eval sync.Mutex
	mu   sync.Mutex
	cur  map[string][]Alert
}

func (b *alertBook) current(queue string) []Alert {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Alert{}, b.cur[queue]...)
}

// judge is the pure rule: the alerts a view is past (Since unset), in the
// order of the kinds above.
func judge(rules config.QueueAlerts, v QueueView) []Alert {
	var out []Alert
	if t := rules.LongestWait.Seconds(); t > 0 {
		w := v.LongestWaitSeconds
		level := ""
		switch {
		case w >= t:
			level = LevelRed
		case w >= amberShare*t:
			level = LevelAmber
		}
		if level != "" {
			out = append(out, Alert{Kind: AlertLongestWait, Level: level,
				Detail: fmt.Sprintf("longest wait %s (threshold %s)", seconds(w), seconds(t))})
		}
	}
	if target := rules.ServiceLevel; target > 0 {
		if sl := windowSL(v, "30m"); sl != nil {
			level := ""
			switch {
			case *sl < target:
				level = LevelRed
			case *sl < amberLine(target):
				level = LevelAmber
			}
			if level != "" {
				out = append(out, Alert{Kind: AlertServiceLevel, Level: level,
					Detail: fmt.Sprintf("service level %s in the last 30 minutes (target %s)", percent(*sl), percent(target))})
			}
		}
	}
	if rules.NoAgentsWhileWaiting && v.Waiting > 0 {
		avail, paused := v.AgentsByPresence[string(Available)], v.AgentsByPresence[string(Paused)]
		switch {
		case avail+paused == 0:
			out = append(out, Alert{Kind: AlertNoAgents, Level: LevelRed,
				Detail: fmt.Sprintf("%d waiting, no agent logged in", v.Waiting)})
		case avail == 0:
			out = append(out, Alert{Kind: AlertNoAgents, Level: LevelAmber,
				Detail: fmt.Sprintf("%d waiting, every logged-in agent paused", v.Waiting)})
		}
	}
	return out
}

// windowSL is the service level of the window named name (the sliding
// window, whatever its length, is the first), nil when nothing counted.
func windowSL(v QueueView, name string) *float64 {
	if len(v.Windows) == 0 {
		return nil
	}
	for _, w := range v.Windows {
		if w.Name == name {
			return w.ServiceLevel
		}
	}
	return v.Windows[0].ServiceLevel
}

// amberLine is the service level below which a target shows amber, rounded
// to a millionth so 0.8 gives 0.85 and not 0.85000000000000001.
func amberLine(target float64) float64 {
	return math.Round((target+(1-target)*(1-amberShare))*1e6) / 1e6
}

func seconds(s float64) string { return fmt.Sprintf("%d s", int(math.Floor(s))) }

func percent(f float64) string { return fmt.Sprintf("%d %%", int(math.Floor(f*100+1e-9))) }

// EvaluateAlerts judges every queue with thresholds at the service clock's
// now, updates the alerts its views carry and publishes one queue.alert per
// kind whose level changed. It returns the changes, in queue then kind
// order. RunAlerts calls it; with a fake clock, call it directly.
func (s *Service) EvaluateAlerts() []AlertChange {
	b := &s.alerts
	b.eval.Lock()
	defer b.eval.Unlock()
	var changes []AlertChange
	for _, name := range s.alertQueues() {
		v, err := s.Queue(name)
		if err != nil {
			continue
		}
		now := s.cfg.Now()
		next := judge(s.cfg.Queues[name].Alerts, v)
		prev := b.current(name)
		for i := range next {
			before := findAlert(prev, next[i].Kind)
			if before != nil && before.Level == next[i].Level {
				next[i].Since = before.Since // same level: only the detail moves
				continue
			}
			next[i].Since = now
			was := LevelOK
			if before != nil {
				was = before.Level
			}
			changes = append(changes, AlertChange{Queue: name, Kind: next[i].Kind, Level: next[i].Level, Previous: was,
				Since: now, Detail: next[i].Detail})
		}
		for _, p := range prev {
			if findAlert(next, p.Kind) == nil {
				changes = append(changes, AlertChange{Queue: name, Kind: p.Kind, Level: LevelOK, Previous: p.Level,
					Since: now, Detail: strings.TrimSpace(p.Detail + " (cleared)")})
			}
		}
		b.mu.Lock()
		if b.cur == nil {
			b.cur = map[string][]Alert{}
		}
		b.cur[name] = next
		b.mu.Unlock()
	}
	for _, c := range changes {
		// Published after the view carries the change, so a board that
		// re-fetches on the event sees it.
		s.cfg.Bus.Publish(events.Event{Type: QueueAlert, Queue: c.Queue, Time: c.Since, Payload: c})
	}
	return changes
}

func findAlert(as []Alert, kind string) *Alert {
	for i := range as {
		if as[i].Kind == kind {
			return &as[i]
		}
	}
	return nil
}

// alertQueues are the queues with a threshold set, by name.
func (s *Service) alertQueues() []string {
	var out []string
	for _, name := range sortedNames(s.cfg.Queues) {
		if s.cfg.Queues[name].Alerts.Any() {
			out = append(out, name)
		}
	}
	return out
}

func sortedNames(m map[string]config.Queue) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// alertEvery is how often RunAlerts evaluates without an event: the
// longest wait crosses its thresholds with time alone.
const alertEvery = 500 * time.Millisecond

// RunAlerts evaluates the alerts on every queue or agent event and every
// alertEvery until ctx ends. Without a threshold anywhere it returns at
// once: nothing to watch.
func (s *Service) RunAlerts(ctx context.Context) error {
	if len(s.alertQueues()) == 0 {
		return nil
	}
	var in <-chan events.Event // nil without a bus: the ticker alone
	if s.cfg.Bus != nil {
		sub := s.cfg.Bus.Subscribe(1024)
		defer sub.Close()
		in = sub.C
	}
	tick := time.NewTicker(alertEvery)
	defer tick.Stop()
	s.EvaluateAlerts()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case e, ok := <-in:
			if !ok {
				return nil
			}
			if !alertInput(e.Type) {
				continue
			}
		drain: // a burst of events is one evaluation
			for {
				select {
				case _, ok := <-in:
					if !ok {
						return nil
					}
				default:
					break drain
				}
			}
		}
		s.EvaluateAlerts()
	}
}

// alertInput: the events that can move an alert (not queue.alert itself).
func alertInput(typ string) bool {
	return typ != QueueAlert && (strings.HasPrefix(typ, "queue.") || strings.HasPrefix(typ, "agent."))
}
