package callback

import (
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/store"
)

func TestNextAfterAnAttempt(t *testing.T) {
	office := config.Calendar{TimeZone: "Asia/Ho_Chi_Minh", Hours: map[string][]string{
		"mon": {"08:00-12:00", "13:00-17:30"}, "tue": {"08:00-17:30"}, "sat": {"08:00-12:00"}}, Holidays: []string{"2026-11-24"}}
	set, err := newSettings("technical", config.Queue{Callback: config.QueueCallback{Calendar: "office",
		RetrySpacing: []time.Duration{5 * time.Minute, 30 * time.Minute}}}, map[string]config.Calendar{"office": office})
	if err != nil {
		t.Fatal(err)
	}
	hcm := set.cal.Location()
	mon := func(h, m int) time.Time { return time.Date(2026, 11, 23, h, m, 0, 0, hcm) }
	cb := func(attempts, max, interrupted int) store.Callback {
		return store.Callback{Attempts: attempts, MaxAttempts: max, Interrupted: interrupted, ExpiresAt: mon(8, 0).Add(7 * 24 * time.Hour)}
	}
	for _, tc := range []struct {
		name    string
		cb      store.Callback
		result  store.AttemptResult
		now     time.Time
		state   store.CallbackState
		at      time.Time
		back    bool
		outcome string
	}{
		{"completed", cb(1, 3, 0), store.AttemptCompleted, mon(9, 0), store.CallbackCompleted, time.Time{}, false, "completed by lan"},
		{"no answer: the first spacing", cb(1, 3, 0), store.AttemptNoAnswer, mon(9, 0), store.CallbackWaiting, mon(9, 5), false, ""},
		{"busy after two: the last spacing repeats", cb(2, 3, 0), store.AttemptBusy, mon(9, 0), store.CallbackWaiting, mon(9, 30), false, ""},
		{"spacing into lunch: after lunch", cb(1, 3, 0), store.AttemptRejected, mon(11, 58), store.CallbackWaiting, mon(13, 0), false, ""},
		{"spacing past closing, next day a holiday: Saturday", cb(2, 3, 0), store.AttemptNoConfirmation, mon(17, 10),
			store.CallbackWaiting, time.Date(2026, 11, 28, 8, 0, 0, 0, hcm), false, ""},
		{"last attempt used", cb(3, 3, 0), store.AttemptTrunkFailed, mon(9, 0), store.CallbackFailed, time.Time{}, false, "trunk failed after 3 calls"},
		{"abandoned after confirming: retried", cb(1, 3, 0), store.AttemptAbandoned, mon(9, 0), store.CallbackWaiting, mon(9, 5), false, ""},
		{"refused by the policy: no retry", cb(1, 3, 0), store.AttemptRefused, mon(9, 0), store.CallbackFailed, time.Time{}, false, "refused by the outbound policy"},
		{"agent missed: back now, attempt returned", cb(1, 3, 0), store.AttemptAgentMissed, mon(9, 0), store.CallbackWaiting, mon(9, 0), true, ""},
		{"not placed (trunks busy): after the spacing, attempt returned", cb(3, 3, 0), store.AttemptNotPlaced, mon(9, 0), store.CallbackWaiting, mon(9, 30), true, ""},
		{"interrupted once: back now, attempt returned", cb(1, 3, 0), store.AttemptInterrupted, mon(9, 0), store.CallbackWaiting, mon(9, 0), true, ""},
		{"interrupted twice: failed", cb(1, 3, 1), store.AttemptInterrupted, mon(9, 0), store.CallbackFailed, time.Time{}, false, "twice"},
		{"no slot before expiry: expired", store.Callback{Attempts: 1, MaxAttempts: 3, ExpiresAt: mon(17, 12)}, store.AttemptNoAnswer,
			mon(17, 10), store.CallbackExpired, time.Time{}, false, "no open time left"},
		{"interrupted after hours: at the opening", cb(1, 3, 0), store.AttemptInterrupted, mon(20, 0), store.CallbackWaiting,
			time.Date(2026, 11, 28, 8, 0, 0, 0, hcm), true, ""},
	} {
		d := set.next(tc.cb, Result{Result: tc.result, Agent: "lan"}, tc.now)
		if d.state != tc.state || !d.notBefore.Equal(tc.at) || d.giveBack != tc.back || !strings.Contains(d.outcome, tc.outcome) {
			t.Errorf("%s: %+v; want %s at %v (give back %v, outcome ~%q)", tc.name, d, tc.state, tc.at, tc.back, tc.outcome)
		}
		if d.state == store.CallbackWaiting && !set.open(d.notBefore) {
			t.Errorf("%s: retry at %v, outside the calendar", tc.name, d.notBefore)
		}
	}
}

func TestPaced(t *testing.T) {
	for _, tc := range []struct {
		free  int
		ratio float64
		want  int
	}{{0, 1, 0}, {-1, 2, 0}, {1, 1, 1}, {3, 1, 3}, {1, 0.5, 1}, {3, 0.5, 1}, {4, 0.5, 2}, {2, 1.5, 3}, {5, 2, 10}} {
		if got := paced(tc.free, tc.ratio); got != tc.want {
			t.Errorf("paced(%d, %v) = %d, want %d", tc.free, tc.ratio, got, tc.want)
		}
	}
}
