package jobs

import (
	"testing"
	"time"
)

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Min: time.Second, Max: time.Minute}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute}
	for i, w := range want {
		if got := b.Delay(i + 1); got != w {
			t.Errorf("Delay(%d) = %v, want %v", i+1, got, w)
		}
	}
	if got := b.Next(0); got != time.Second {
		t.Errorf("Next(0) = %v", got)
	}
	if got := b.Next(40 * time.Second); got != time.Minute {
		t.Errorf("Next(40s) = %v", got)
	}
}

func TestBackoffJitter(t *testing.T) {
	for _, r := range []float64{0, 0.5, 0.999} {
		b := Backoff{Min: 10 * time.Second, Max: time.Hour, Jitter: 0.5, Rand: func() float64 { return r }}
		got := b.Delay(2) // 20s before jitter
		want := 20*time.Second - time.Duration(float64(20*time.Second)*0.5*r)
		if got != want || got < 10*time.Second || got > 20*time.Second {
			t.Errorf("r=%v: Delay(2) = %v, want %v within [10s, 20s]", r, got, want)
		}
	}
}

func TestRetryHorizon(t *testing.T) {
	r := Retry{Backoff: Backoff{Min: time.Hour, Max: 8 * time.Hour}, Horizon: 24 * time.Hour}
	first := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := first
	var n int
	for n = 1; ; n++ {
		next, dead := r.After(n, first, now)
		if dead {
			break
		}
		if !next.After(now) {
			t.Fatalf("attempt %d: next %v not after %v", n, next, now)
		}
		now = next
	}
	// 1+2+4+8 = 15h, +8 = 23h, +8 = 31h > 24h: dead after the 6th failure.
	if n != 6 || now != first.Add(23*time.Hour) {
		t.Errorf("dead after attempt %d at %v, want 6 at +23h", n, now.Sub(first))
	}
}

func TestTimers(t *testing.T) {
	var ts Timers[string]
	t0 := time.Unix(1000, 0)
	a, b, c := &Timer[string]{V: "a"}, &Timer[string]{V: "b"}, &Timer[string]{V: "c"}
	ts.Set(a, t0.Add(3*time.Second))
	ts.Set(b, t0.Add(1*time.Second))
	ts.Set(c, t0.Add(2*time.Second))
	ts.Set(a, t0) // moved to the front
	ts.Stop(c)
	ts.Stop(c) // twice is nothing
	if c.Armed() || ts.Len() != 2 {
		t.Fatalf("c armed %v, len %d", c.Armed(), ts.Len())
	}
	var got []string
	for x := ts.PopDue(t0.Add(5 * time.Second)); x != nil; x = ts.PopDue(t0.Add(5 * time.Second)) {
		got = append(got, x.V)
	}
	if len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("popped %v, want [a b]", got)
	}
	ts.Set(c, t0.Add(time.Minute))
	if ts.PopDue(t0) != nil {
		t.Error("a timer not yet due was popped")
	}
}
