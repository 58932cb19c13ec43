// Package jobs holds what Hotline's durable jobs share: the callback
// scheduler (callback) and the webhook deliverer (webhook) both keep their
// work in the database, claim a row before acting on it (one
// transaction), retry with a back-off schedule and sleep on a timer heap
// until the next thing is due rather than polling. The claim SQL lives in
// each job's store methods (the rows differ); the timing lives here.
package jobs

import (
	"math/rand/v2"
	"time"
)

// Backoff is an exponential back-off: Min, then doubling up to Max. With
// Jitter in (0, 1] each delay is drawn uniformly from
// [d·(1-Jitter), d] ("equal jitter"), so a fleet of retries that failed at
// the same moment (a receiver that came back) does not return in step.
type Backoff struct {
	Min, Max time.Duration
	Jitter   float64
	// Rand draws a float64 in [0, 1); nil is math/rand/v2. Tests inject a
	// fixed one.
	Rand func() float64
}

// Next is the delay after prev without jitter (a first failure: prev 0).
// The callback scheduler uses it for a database write that found the
// database unavailable.
func (b Backoff) Next(prev time.Duration) time.Duration {
	if prev < b.Min {
		return b.Min
	}
	return min(2*prev, b.Max)
}

// Delay is the wait after failed attempt n (1-based): Min·2^(n-1) capped
// at Max, with jitter.
func (b Backoff) Delay(n int) time.Duration {
	d := b.Min
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	if b.Jitter <= 0 {
		return d
	}
	r := b.Rand
	if r == nil {
		r = rand.Float64
	}
	j := min(b.Jitter, 1)
	return d - time.Duration(float64(d)*j*r())
}

// Retry is a retry schedule bounded in time: attempts are spaced by
// Backoff until Horizon has passed since the first one; then the job is
// dead (the webhook deliverer's dead letter).
type Retry struct {
	Backoff Backoff
	Horizon time.Duration
}

// After decides what follows failed attempt n of a job first tried at
// first, failing at now: the next attempt's time, or dead when that would
// fall after first+Horizon.
func (r Retry) After(n int, first, now time.Time) (next time.Time, dead bool) {
	next = now.Add(r.Backoff.Delay(n))
	if r.Horizon > 0 && next.After(first.Add(r.Horizon)) {
		return time.Time{}, true
	}
	return next, false
}
