package callback

import (
	"fmt"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/calendar"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/store"
)

// settings are one queue's callback configuration, with its calendar
// parsed.
type settings struct {
	queue   string
	cfg     config.QueueCallback
	calName string
	cal     *calendar.Calendar // nil: any time
}

func newSettings(queue string, q config.Queue, calendars map[string]config.Calendar) (*settings, error) {
	s := &settings{queue: queue, cfg: q.Callback.WithDefaults(), calName: q.Callback.Calendar}
	if s.calName != "" {
		spec, ok := calendars[s.calName]
		if !ok {
			return nil, fmt.Errorf("queues.%s.callback.calendar: no calendar %q", queue, s.calName)
		}
		cal, err := calendar.Parse(spec)
		if err != nil {
			return nil, fmt.Errorf("queues.%s.callback.calendar: %q: %w", queue, s.calName, err)
		}
		s.cal = cal
	}
	return s, nil
}

// open reports whether callbacks may be dialled at t.
func (s *settings) open(t time.Time) bool { return s.cal == nil || s.cal.Open(t) }

// dueAt is the first moment at or after both notBefore and now when the
// calendar is open; ok is false when it never opens again.
func (s *settings) dueAt(notBefore, now time.Time) (time.Time, bool) {
	at := notBefore
	if at.Before(now) {
		at = now
	}
	if s.cal == nil {
		return at, true
	}
	return s.cal.NextOpen(at)
}

// closesAt is when the calendar closes after t (zero: not within a week,
// or no calendar).
func (s *settings) closesAt(t time.Time) time.Time {
	if s.cal == nil {
		return time.Time{}
	}
	end, _ := s.cal.OpenUntil(t)
	return end
}

// spacing is the wait after failed attempt n (1-based).
func (s *settings) spacing(n int) time.Duration {
	sp := s.cfg.RetrySpacing
	if n < 1 {
		n = 1
	}
	return sp[min(n, len(sp))-1]
}

// decision is what follows an attempt.
type decision struct {
	state     store.CallbackState
	notBefore time.Time
	giveBack  bool
	outcome   string
}

// retryable results: the customer was not reached (or not served), through
// no fault of the request.
var retryable = map[store.AttemptResult]bool{
	store.AttemptNoAnswer: true, store.AttemptBusy: true, store.AttemptRejected: true, store.AttemptNoConfirmation: true,
	store.AttemptAbandoned: true, store.AttemptTrunkFailed: true,
}

// next decides what follows attempt cb.Attempts ending with res at now.
// interrupted is true when the attempt was cut short by Hotline (a
// shutdown).
func (s *settings) next(cb store.Callback, res Result, now time.Time) decision {
	switch r := res.Result; {
	case r == store.AttemptCompleted:
		out := "completed"
		if res.Agent != "" {
			out += " by " + res.Agent
		}
		return decision{state: store.CallbackCompleted, outcome: out}
	case r == store.AttemptRefused:
		return decision{state: store.CallbackFailed, outcome: "refused by the outbound policy: " + res.Reason}
	case r == store.AttemptInterrupted:
		if cb.Interrupted > 0 {
			return decision{state: store.CallbackFailed, outcome: "calls cut short by a restart twice"}
		}
		return s.retryAt(cb, now, now, true, "interrupted")
	case r == store.AttemptAgentMissed:
		// Not the customer's doing: back in line at once, attempt returned.
		return s.retryAt(cb, now, now, true, "agent missed")
	case r == store.AttemptNotPlaced:
		// Hotline had no capacity (trunks busy, a dial cap): not the
		// customer's doing either, but trying again at once would only
		// meet the same wall, so after the spacing, attempt returned.
		return s.retryAt(cb, now, now.Add(s.spacing(cb.Attempts)), true, "not placed")
	case retryable[r]:
		if cb.Attempts >= cb.MaxAttempts {
			return decision{state: store.CallbackFailed, outcome: fmt.Sprintf("%s after %d calls", phrase(r), cb.Attempts)}
		}
		return s.retryAt(cb, now, now.Add(s.spacing(cb.Attempts)), false, phrase(r))
	default:
		return decision{state: store.CallbackFailed, outcome: fmt.Sprintf("unknown result %q", r)}
	}
}

// retryAt puts the callback back in line at the first open moment from at,
// or ends it expired when there is none before it expires.
func (s *settings) retryAt(cb store.Callback, now, at time.Time, giveBack bool, why string) decision {
	due, ok := s.dueAt(at, now)
	if !ok || !due.Before(cb.ExpiresAt) {
		return decision{state: store.CallbackExpired, outcome: fmt.Sprintf("%s; no open time left before it expires at %s",
			why, cb.ExpiresAt.Format(time.RFC3339))}
	}
	return decision{state: store.CallbackWaiting, notBefore: due, giveBack: giveBack}
}

func phrase(r store.AttemptResult) string { return strings.ReplaceAll(string(r), "_", " ") }
