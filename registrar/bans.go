package registrar

import "time"

// banList counts authentication failures per source IP inside a sliding
// window; MaxFailures within FailureWindow bans the source for BanTime. A
// banned source is answered 403 before any parsing of its credentials.
// Guarded by Registrar.mu.
type banList struct {
	failures map[string][]time.Time
	banned   map[string]time.Time // ip -> ban end
}

func newBanList() banList {
	return banList{failures: map[string][]time.Time{}, banned: map[string]time.Time{}}
}

func (b *banList) isBanned(ip string, now time.Time) bool {
	until, ok := b.banned[ip]
	if !ok {
		return false
	}
	if !now.Before(until) {
		delete(b.banned, ip)
		return false
	}
	return true
}

// fail records one failure and reports whether the source is now banned.
func (b *banList) fail(ip string, now time.Time, c *Config) bool {
	kept := b.failures[ip][:0]
	for _, t := range b.failures[ip] {
		if now.Sub(t) < c.FailureWindow {
			kept = append(kept, t)
		}
	}
	kept = append(kept, now)
	if len(kept) >= c.MaxFailures {
		delete(b.failures, ip)
		b.banned[ip] = now.Add(c.BanTime)
		return true
	}
	b.failures[ip] = kept
	return false
}

// succeed forgets failures of a source that authenticated.
func (b *banList) succeed(ip string) { delete(b.failures, ip) }

// sweep drops expired bans and stale failure records.
func (b *banList) sweep(now time.Time, c *Config) {
	for ip, until := range b.banned {
		if !now.Before(until) {
			delete(b.banned, ip)
		}
	}
	for ip, ts := range b.failures {
		if len(ts) == 0 || now.Sub(ts[len(ts)-1]) >= c.FailureWindow {
			delete(b.failures, ip)
		}
	}
}
