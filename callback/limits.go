package callback

import (
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/hotline-dev/hotline/config"
)

// maxKeys bounds each per-key table; past it idle keys are swept, and a
// new key that still finds no room is refused (whoever has that many
// numbers or sources is held by the total bound anyway).
const maxKeys = 1 << 16

// limits are the request bounds of config callbacks:, each per hour. A
// request reserves one token of each bound that applies and gives them
// back when it creates nothing (a duplicate, a refusal).
type limits struct {
	mu        sync.Mutex
	perNumber bucketSet
	perSource bucketSet
	total     *rate.Limiter // nil: off
}

type bucketSet struct {
	name  string
	limit rate.Limit // 0: off
	burst int
	keys  map[string]*rate.Limiter
}

func perHour(n int) (rate.Limit, int) {
	if n <= 0 {
		return 0, 0
	}
	return rate.Limit(float64(n) / 3600), n
}

func newLimits(c config.Callbacks) *limits {
	l := &limits{}
	l.perNumber.name, l.perSource.name = "per_number", "per_source"
	l.perNumber.limit, l.perNumber.burst = perHour(c.PerNumber)
	l.perSource.limit, l.perSource.burst = perHour(c.PerSource)
	l.perNumber.keys, l.perSource.keys = map[string]*rate.Limiter{}, map[string]*rate.Limiter{}
	if lim, burst := perHour(c.Total); lim > 0 {
		l.total = rate.NewLimiter(lim, burst)
	}
	return l
}

// reservation is what reserve took; cancel gives it back.
type reservation []*rate.Reservation

func (r reservation) cancel(at time.Time) {
	for _, x := range r {
		x.CancelAt(at)
	}
}

// reserve takes one request for number from source ("" is not counted per
// source) at now, or says which bound refused and when to retry.
func (l *limits) reserve(number, source string, now time.Time) (reservation, *RateLimitError) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var got reservation
	take := func(name string, lim *rate.Limiter) *RateLimitError {
		if lim == nil {
			got.cancel(now)
			return &RateLimitError{Bound: name, RetryAfter: time.Hour}
		}
		r := lim.ReserveN(now, 1)
		if d := r.DelayFrom(now); !r.OK() || d > 0 {
			r.CancelAt(now)
			got.cancel(now)
			if !r.OK() {
				d = time.Hour
			}
			return &RateLimitError{Bound: name, RetryAfter: d}
		}
		got = append(got, r)
		return nil
	}
	if l.perNumber.limit > 0 {
		if err := take(l.perNumber.name, l.perNumber.get(number, now)); err != nil {
			return nil, err
		}
	}
	if l.perSource.limit > 0 && source != "" {
		if err := take(l.perSource.name, l.perSource.get(source, now)); err != nil {
			return nil, err
		}
	}
	if l.total != nil {
		if err := take("total", l.total); err != nil {
			return nil, err
		}
	}
	return got, nil
}

// get is key's limiter, or nil when the table is full of active keys.
func (b *bucketSet) get(key string, now time.Time) *rate.Limiter {
	if lim := b.keys[key]; lim != nil {
		return lim
	}
	if len(b.keys) >= maxKeys {
		for k, lim := range b.keys { // a full bucket has been idle an hour or more: forget it
			if lim.TokensAt(now) >= float64(b.burst) {
				delete(b.keys, k)
			}
		}
		if len(b.keys) >= maxKeys {
			return nil
		}
	}
	lim := rate.NewLimiter(b.limit, b.burst)
	b.keys[key] = lim
	return lim
}
