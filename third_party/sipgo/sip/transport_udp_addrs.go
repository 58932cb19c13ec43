package sip

import (
	"slices"
	"time"
)

const (
	// DefaultUDPListenerAddrTTL is how long a UDP listener keeps a remote
	// address it has not heard from in the connection pool when
	// TransportUDP.ListenerAddrTTL is zero.
	DefaultUDPListenerAddrTTL = 10 * time.Minute
	// DefaultUDPListenerAddrMax is how many remote addresses one UDP listener
	// keeps in the connection pool when TransportUDP.ListenerAddrMax is zero.
	DefaultUDPListenerAddrMax = 1 << 16
)

// listenerAddrs remembers when a UDP listener last heard from each remote
// address it added to the connection pool, so that the entries can be
// removed again. Without it every source address (one datagram is enough,
// and UDP sources are trivially spoofed) stays in the pool until the
// listener closes. It belongs to the listener's read goroutine: no locking.
type listenerAddrs struct {
	ttl       time.Duration // < 0: never forget
	max       int           // < 0: no cap
	seen      map[string]time.Time
	lastSweep time.Time
}

func newListenerAddrs(ttl time.Duration, max int) *listenerAddrs {
	if ttl == 0 {
		ttl = DefaultUDPListenerAddrTTL
	}
	if max == 0 {
		max = DefaultUDPListenerAddrMax
	}
	return &listenerAddrs{ttl: ttl, max: max, seen: make(map[string]time.Time)}
}

// touch records a datagram from addr at now.
func (a *listenerAddrs) touch(addr string, now time.Time) {
	a.seen[addr] = now
}

// stale returns the addresses to drop from the pool at now: those not heard
// from for ttl (checked every ttl/4), and, once more than max are kept, the
// oldest until three quarters of max remain. keep (the address of the
// datagram being handled) is never returned.
func (a *listenerAddrs) stale(now time.Time, keep string) []string {
	over := a.max > 0 && len(a.seen) > a.max
	if !over && (a.ttl < 0 || now.Sub(a.lastSweep) < a.ttl/4) {
		return nil
	}
	var drop []string
	if a.ttl >= 0 {
		a.lastSweep = now
		for addr, t := range a.seen {
			if addr != keep && now.Sub(t) >= a.ttl {
				drop = append(drop, addr)
				delete(a.seen, addr)
			}
		}
	}
	if a.max > 0 && len(a.seen) > a.max {
		times := make([]time.Time, 0, len(a.seen))
		for _, t := range a.seen {
			times = append(times, t)
		}
		slices.SortFunc(times, func(x, y time.Time) int { return x.Compare(y) })
		cutoff := times[len(times)-a.max*3/4]
		for addr, t := range a.seen {
			if addr != keep && t.Before(cutoff) {
				drop = append(drop, addr)
				delete(a.seen, addr)
			}
		}
	}
	return drop
}

// addrs lists every address still kept (for the final cleanup).
func (a *listenerAddrs) addrs() []string {
	out := make([]string, 0, len(a.seen))
	for addr := range a.seen {
		out = append(out, addr)
	}
	return out
}
