package api

import (
	"math"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Token guessing is throttled per source address: each request that
// presents a bearer token we do not know spends one of AuthFailures
// allowances per minute (burst the same). A source with none left gets 429
// with Retry-After for every request that presents a token, before the
// token is compared, so a guess made while throttled says nothing about
// whether it was right. Requests without a token are not guessing and are
// not counted. Behind a reverse proxy every client has the proxy's address:
// throttle there instead (docs/security.md).

// maxThrottled bounds the per-source table; past it a new source is not
// tracked until idle entries are swept (an attacker with that many
// addresses is not stopped by a per-source limit anyway).
const maxThrottled = 1 << 16

type failThrottle struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	sources map[string]*rate.Limiter
}

// newFailThrottle allows perMinute failures per source and minute; 0 or
// less disables it (nil).
func newFailThrottle(perMinute int) *failThrottle {
	if perMinute <= 0 {
		return nil
	}
	return &failThrottle{limit: rate.Limit(float64(perMinute) / 60), burst: perMinute, sources: map[string]*rate.Limiter{}}
}

// retryAfter is how long src must wait before presenting a token again, or
// 0 when it may now.
func (f *failThrottle) retryAfter(src string, now time.Time) time.Duration {
	if f == nil {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.sources[src]
	if l == nil {
		return 0
	}
	tokens := l.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / float64(f.limit) * float64(time.Second))
}

// fail spends one allowance of src.
func (f *failThrottle) fail(src string, now time.Time) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.sources[src]
	if l == nil {
		if len(f.sources) >= maxThrottled {
			f.sweep(now)
			if len(f.sources) >= maxThrottled {
				return
			}
		}
		l = rate.NewLimiter(f.limit, f.burst)
		f.sources[src] = l
	}
	l.AllowN(now, 1)
}

// sweep forgets sources whose allowance has refilled: they are as good as
// new. Called with f.mu held.
func (f *failThrottle) sweep(now time.Time) {
	for src, l := range f.sources {
		if l.TokensAt(now) >= float64(f.burst) {
			delete(f.sources, src)
		}
	}
}

// retryAfterSeconds renders a wait as a Retry-After value (RFC 9110
// §10.2.3): whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// sourceOf is the client address of r (no port).
func sourceOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
