package registrar

import "time"

// Bans. Only a failure that proves the sender can receive at its source
// address counts: a digest response to a nonce we issued to that source IP
// (digest.go) that does not verify. A forged UDP source never sees our
// challenge, so it cannot make a failure count against the address it
// forges.
//
// Failures are counted per (source IP, username): MaxFailures within
// FailureWindow bans that username from that IP for BanTime, so a guesser
// behind an office NAT locks out only the account it guesses, not every
// agent on the NAT's address. Failures are also counted per source, every
// username together (MaxSourceFailures: a scanner trying many names); that
// bans the whole source, unless it authenticated within TrustTime: a source
// where agents' phones register is never banned as a whole. A phone that
// holds a live binding from the exact source address and port is never
// refused by a ban (Registrar.holdsBinding): the guesser cannot send from
// that port and receive the answer.
//
// Guarded by Registrar.mu.
type banList struct {
	failures map[banKey][]time.Time // per (ip, user)
	bySource map[string][]time.Time // per ip, every user
	banned   map[banKey]time.Time   // → ban end; user anyUser bans the source
	trusted  map[string]time.Time   // ip → last successful authentication
}

// banKey names who is banned: a username from a source, or (anyUser) the
// whole source. Unknown usernames share unknownUser, so a scanner that
// invents names cannot grow the tables.
type banKey struct{ ip, user string }

const (
	anyUser     = "*"
	unknownUser = "?"
	// maxTracked bounds each failure table: past it, new keys are not
	// tracked (existing ones still are) until the sweep frees room. Only
	// sources that can receive our challenges get here.
	maxTracked = 1 << 16
)

// ban is one ban just imposed (or withheld from a trusted source).
type ban struct {
	key      banKey
	until    time.Time
	failures int
	withheld bool // the source authenticated recently: not banned
}

func newBanList() banList {
	return banList{failures: map[banKey][]time.Time{}, bySource: map[string][]time.Time{},
		banned: map[banKey]time.Time{}, trusted: map[string]time.Time{}}
}

// isBanned reports whether user (a username, unknownUser, or "" when the
// request has no credentials) from ip is refused now.
func (b *banList) isBanned(ip, user string, now time.Time) bool {
	if b.active(banKey{ip, anyUser}, now) {
		return true
	}
	return user != "" && b.active(banKey{ip, user}, now)
}

func (b *banList) active(k banKey, now time.Time) bool {
	until, ok := b.banned[k]
	if !ok {
		return false
	}
	if !now.Before(until) {
		delete(b.banned, k)
		return false
	}
	return true
}

// fail records one failure of user from ip and returns the bans it causes.
func (b *banList) fail(ip, user string, now time.Time, c *Config) []ban {
	var out []ban
	k := banKey{ip, user}
	if n, full := record(b.failures, k, now, c.FailureWindow, c.MaxFailures); full {
		delete(b.failures, k)
		b.banned[k] = now.Add(c.BanTime)
		out = append(out, ban{key: k, until: now.Add(c.BanTime), failures: n})
	}
	if n, full := record(b.bySource, ip, now, c.FailureWindow, c.MaxSourceFailures); full {
		delete(b.bySource, ip)
		sk := banKey{ip, anyUser}
		// A source in sip.trusted (the proxy in front) is every phone at
		// once: banning it would lock all of them out. Flood limits belong
		// to the proxy there (Kamailio pike; docs/security.md).
		if last, ok := b.trusted[ip]; ok && now.Sub(last) < c.TrustTime || inPrefixes(ip, c.Trusted) {
			out = append(out, ban{key: sk, failures: n, withheld: true})
		} else {
			b.banned[sk] = now.Add(c.BanTime)
			out = append(out, ban{key: sk, until: now.Add(c.BanTime), failures: n})
		}
	}
	return out
}

// record appends now to m[k], keeping the times inside window, and reports
// the count and whether it reached limit.
func record[K comparable](m map[K][]time.Time, k K, now time.Time, window time.Duration, limit int) (int, bool) {
	ts, ok := m[k]
	if !ok && len(m) >= maxTracked {
		return 0, false
	}
	kept := ts[:0]
	for _, t := range ts {
		if now.Sub(t) < window {
			kept = append(kept, t)
		}
	}
	kept = append(kept, now)
	m[k] = kept
	return len(kept), len(kept) >= limit
}

// succeed forgets the failures of user from ip and trusts ip.
func (b *banList) succeed(ip, user string, now time.Time) {
	delete(b.failures, banKey{ip, user})
	delete(b.bySource, ip)
	b.trusted[ip] = now
}

// sweep drops expired bans, stale failure records and old trust.
func (b *banList) sweep(now time.Time, c *Config) {
	for k, until := range b.banned {
		if !now.Before(until) {
			delete(b.banned, k)
		}
	}
	for k, ts := range b.failures {
		if len(ts) == 0 || now.Sub(ts[len(ts)-1]) >= c.FailureWindow {
			delete(b.failures, k)
		}
	}
	for ip, ts := range b.bySource {
		if len(ts) == 0 || now.Sub(ts[len(ts)-1]) >= c.FailureWindow {
			delete(b.bySource, ip)
		}
	}
	for ip, t := range b.trusted {
		if now.Sub(t) >= c.TrustTime {
			delete(b.trusted, ip)
		}
	}
}
