package sip

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// sourceLimiter is a token bucket (golang.org/x/time/rate) per source IP,
// for unauthenticated, out-of-dialog requests (PRODUCT.md: rate limits on
// unauthenticated SIP). Each source also has a small budget of stateless
// rejections, so a flood is answered a few times and then dropped: a reply
// to a spoofed source is a reflection.
type sourceLimiter struct {
	limit   rate.Limit
	burst   int
	max     int // sources tracked; past it, refilled buckets are pruned
	now     func() time.Time
	mu      sync.Mutex
	sources map[netip.Addr]*source
}

type source struct {
	req   *rate.Limiter // requests
	reply *rate.Limiter // stateless rejections sent back
}

// rejectReplies is how many stateless rejections per second one source gets
// (burst rejectRepliesBurst); further over-limit requests are dropped.
const (
	rejectReplies      = 2
	rejectRepliesBurst = 5
	maxSources         = 100_000
)

func newSourceLimiter(perSecond float64, burst int, now func() time.Time) *sourceLimiter {
	if burst < 1 {
		burst = max(1, int(perSecond))
	}
	return &sourceLimiter{limit: rate.Limit(perSecond), burst: burst, max: maxSources, now: now,
		sources: map[netip.Addr]*source{}}
}

// allow takes one request token for ip.
func (l *sourceLimiter) allow(ip netip.Addr) bool {
	return l.get(ip).req.AllowN(l.now(), 1)
}

// exhausted reports whether ip has no request token left, without taking one.
func (l *sourceLimiter) exhausted(ip netip.Addr) bool {
	l.mu.Lock()
	s, ok := l.sources[ip]
	l.mu.Unlock()
	return ok && s.req.TokensAt(l.now()) < 1
}

// reply takes one stateless-rejection token for ip: false means drop silently.
func (l *sourceLimiter) reply(ip netip.Addr) bool {
	return l.get(ip).reply.AllowN(l.now(), 1)
}

func (l *sourceLimiter) get(ip netip.Addr) *source {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.sources[ip]
	if !ok {
		if len(l.sources) >= l.max {
			l.prune(l.now())
		}
		s = &source{req: rate.NewLimiter(l.limit, l.burst), reply: rate.NewLimiter(rejectReplies, rejectRepliesBurst)}
		l.sources[ip] = s
	}
	return s
}

// prune drops sources whose buckets are full again: they hold no state worth
// keeping. If every source is active (a spoofed flood), it drops a quarter
// of them anyway: the table must stay bounded, and a dropped source only
// starts again with a full bucket.
func (l *sourceLimiter) prune(now time.Time) {
	for ip, s := range l.sources {
		if s.req.TokensAt(now) >= float64(l.burst) && s.reply.TokensAt(now) >= rejectRepliesBurst {
			delete(l.sources, ip)
		}
	}
	for ip := range l.sources {
		if len(l.sources) < l.max*3/4 {
			break
		}
		delete(l.sources, ip)
	}
}

func (l *sourceLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sources)
}
