package outbound

import (
	"fmt"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/config"
)

// window is how far back the per-number and per-source rates look.
const window = time.Hour

// limiter holds the policy's counts: calls up (in total and per trunk),
// the day's dials, and the dial times of the last hour per number and per
// source. One mutex: a dial is decided and counted in one step, so two
// dials racing for the last slot cannot both get it.
type limiter struct {
	cfg config.Outbound
	now func() time.Time
	loc *time.Location

	mu        sync.Mutex
	active    int
	perTrunk  map[string]int
	day       string
	today     int
	warned    bool // the day's warning alarm went out
	capped    bool // the day's cap alarm went out
	busyAlarm time.Time
	numbers   map[string][]time.Time
	sources   map[string][]time.Time
	swept     time.Time
	admitted  uint64
	refused   map[Reason]uint64
}

func newLimiter(cfg config.Outbound, now func() time.Time, loc *time.Location) *limiter {
	if now == nil {
		now = time.Now
	}
	if loc == nil {
		loc = time.Local
	}
	return &limiter{cfg: cfg, now: now, loc: loc, perTrunk: map[string]int{}, numbers: map[string][]time.Time{},
		sources: map[string][]time.Time{}, refused: map[Reason]uint64{}}
}

// alarm is a cap alarm to publish once the lock is released.
type alarm struct {
	cap, level string
	count, max int
}

// admission is what admit decided.
type admission struct {
	trunk  *Trunk // the trunk that carries the call (nil: none)
	reason Reason
	detail string
	alarms []alarm
}

// admit decides a counted dial and, if it is admitted, counts it: number
// and source are the rate keys ("" for none), trunks the candidates in
// order (nil: no trunk). Nothing is counted for a refused dial.
func (l *limiter) admit(number, source string, trunks []*Trunk, viaTrunk bool) admission {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.rollDay(now)
	l.sweep(now)
	var a admission
	refuse := func(r Reason, detail string) admission {
		l.refused[r]++
		a.reason, a.detail = r, detail
		return a
	}
	if max := l.cfg.MaxPerNumberPerHour; max > 0 && number != "" && recent(l.numbers[number], now) >= max {
		return refuse(ReasonNumberRate, fmt.Sprintf("%s was dialled %d times in the last hour (outbound.max_per_number_per_hour %d)", number, max, max))
	}
	if max := l.cfg.MaxPerSourcePerHour; max > 0 && source != "" && recent(l.sources[source], now) >= max {
		return refuse(ReasonSourceRate, fmt.Sprintf("%d dials on behalf of %s in the last hour (outbound.max_per_source_per_hour %d)", max, source, max))
	}
	if max := l.cfg.MaxPerDay; max > 0 && l.today >= max {
		return refuse(ReasonDailyCap, fmt.Sprintf("%d dials counted today (outbound.max_per_day %d)", l.today, max))
	}
	if max := l.cfg.MaxCalls; max > 0 && l.active >= max {
		if now.Sub(l.busyAlarm) >= time.Minute || l.busyAlarm.IsZero() {
			l.busyAlarm = now
			a.alarms = append(a.alarms, alarm{cap: CapMaxCalls, level: LevelReached, count: l.active, max: max})
		}
		return refuse(ReasonMaxCalls, fmt.Sprintf("%d outbound calls up (outbound.max_calls %d)", l.active, max))
	}
	if viaTrunk {
		for _, t := range trunks {
			if t.MaxCalls <= 0 || l.perTrunk[t.Name] < t.MaxCalls {
				a.trunk = t
				break
			}
		}
		if a.trunk == nil {
			names := ""
			for i, t := range trunks {
				if i > 0 {
					names += ", "
				}
				names += fmt.Sprintf("%s %d/%d", t.Name, l.perTrunk[t.Name], t.MaxCalls)
			}
			return refuse(ReasonTrunkBusy, "every trunk that serves it is at its max_calls: "+names)
		}
		l.perTrunk[a.trunk.Name]++
	}
	l.active++
	l.today++
	l.admitted++
	if number != "" {
		l.numbers[number] = append(l.numbers[number], now)
	}
	if source != "" {
		l.sources[source] = append(l.sources[source], now)
	}
	if max := l.cfg.MaxPerDay; max > 0 {
		pct := l.cfg.AlarmPercent
		switch {
		case l.today >= max && !l.capped:
			l.capped, l.warned = true, true
			a.alarms = append(a.alarms, alarm{cap: CapDaily, level: LevelReached, count: l.today, max: max})
		case pct > 0 && l.today*100 >= max*pct && !l.warned:
			l.warned = true
			a.alarms = append(a.alarms, alarm{cap: CapDaily, level: LevelWarning, count: l.today, max: max})
		}
	}
	return a
}

// release ends a counted dial.
func (l *limiter) release(trunk string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.active--
	if trunk != "" {
		l.perTrunk[trunk]--
	}
}

// refusedFor counts a refusal decided outside admit (the allow-list).
func (l *limiter) refusedFor(r Reason) {
	l.mu.Lock()
	l.refused[r]++
	l.mu.Unlock()
}

// rollDay starts a new day's count at midnight in loc.
func (l *limiter) rollDay(now time.Time) {
	day := now.In(l.loc).Format(time.DateOnly)
	if day != l.day {
		l.day, l.today, l.warned, l.capped = day, 0, false, false
	}
}

// sweep forgets dial times older than the window, at most once a minute,
// so the maps hold only the last hour's admitted dials (themselves bounded
// by the daily cap and the rates).
func (l *limiter) sweep(now time.Time) {
	if now.Sub(l.swept) < time.Minute {
		return
	}
	l.swept = now
	for _, m := range []map[string][]time.Time{l.numbers, l.sources} {
		for k, ts := range m {
			if n := recent(ts, now); n == 0 {
				delete(m, k)
			} else {
				m[k] = append([]time.Time(nil), ts[len(ts)-n:]...)
			}
		}
	}
}

// recent counts the times (oldest first) within the window before now.
func recent(ts []time.Time, now time.Time) int {
	n := 0
	for i := len(ts) - 1; i >= 0 && now.Sub(ts[i]) < window; i-- {
		n++
	}
	return n
}

// Stats are the policy's counters (metrics).
type Stats struct {
	Admitted uint64            // dials admitted and counted since start
	Refused  map[Reason]uint64 // refused dials by reason
	Active   int               // counted calls up (ringing or answered)
	Today    int               // dials counted today
	Trunks   map[string]int    // calls up per trunk
}

// Stats returns a snapshot.
func (p *Policy) Stats() Stats {
	if p == nil || p.lim == nil {
		return Stats{Refused: map[Reason]uint64{}, Trunks: map[string]int{}}
	}
	l := p.lim
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rollDay(l.now())
	s := Stats{Admitted: l.admitted, Active: l.active, Today: l.today, Refused: map[Reason]uint64{}, Trunks: map[string]int{}}
	for k, v := range l.refused {
		s.Refused[k] = v
	}
	for _, t := range p.trunks {
		s.Trunks[t.Name] = l.perTrunk[t.Name]
	}
	return s
}
