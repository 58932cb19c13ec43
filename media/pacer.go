package media

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// paceGrid is the pacer's clock: it wakes on multiples of paceGrid (from
// its creation) and sends every frame due by then. A session's slots keep
// the same offset from the grid, so a frame sent up to paceGrid late is
// late by the same amount every time: no jitter, and at most 1000 wake-ups
// a second however many calls there are.
const paceGrid = time.Millisecond

// pacer sends the paced frames of many sessions from one goroutine: one
// wake-up per grid tick sends every due frame, instead of a timer and a
// goroutine wake-up per frame per call (issue 15). The goroutine runs
// only while some session has slots or a wake-up pending, and exits
// otherwise (so an idle server, a finished test or a synctest bubble has
// none left).
type pacer struct {
	epoch time.Time
	kick  chan struct{} // capacity 1: woken is not empty

	mu      sync.Mutex
	running bool
	woken   []*Session // sessions nudged since the last pass (Session.paceQueued)

	// Owned by the running goroutine: a timing wheel of grid ticks. A
	// session with a slot (sendState.paceIn) is in the bucket of its tick
	// (paceTick); entries whose session has moved on are stale and dropped
	// when their bucket comes round. Slots are at most maxPtime after the
	// tick being run, less than a turn of the wheel, unless the loop runs
	// far behind the clock; then a bucket keeps the entries of later turns.
	wheel [wheelSlots][]*Session
	spare []*Session    // the last bucket run, emptied, for the next one
	n     int           // sessions with a slot
	done  int64         // last tick run
	flush []*sharedPort // shared sockets with packets queued this pass (shared.go)
}

// wheelSlots covers maxPtime (and then some) at paceGrid.
const wheelSlots = 128

func newPacer() *pacer { return &pacer{epoch: time.Now(), kick: make(chan struct{}, 1)} }

// tickAfter is the first grid tick at or after t; tickBefore the last at
// or before it; tickTime the tick's time.
func (p *pacer) tickAfter(t time.Time) int64 {
	return int64((t.Sub(p.epoch) + paceGrid - 1) / paceGrid)
}
func (p *pacer) tickBefore(t time.Time) int64 { return int64(t.Sub(p.epoch) / paceGrid) }
func (p *pacer) tickTime(k int64) time.Time   { return p.epoch.Add(time.Duration(k) * paceGrid) }

// pacerSet is the pacers of a PortPool, one per core at its creation: the
// pool's sessions are spread over them.
type pacerSet struct {
	pacers []*pacer
	next   atomic.Uint32
}

func newPacerSet() *pacerSet {
	ps := &pacerSet{pacers: make([]*pacer, max(1, runtime.GOMAXPROCS(0)))}
	for i := range ps.pacers {
		ps.pacers[i] = newPacer()
	}
	return ps
}

func (ps *pacerSet) pick() *pacer {
	return ps.pacers[int(ps.next.Add(1))%len(ps.pacers)]
}

// wake asks the pacer to look at s: start its slots if it has work, or
// reschedule them. Never blocks; safe with any of s's locks held.
func (p *pacer) wake(s *Session) {
	p.mu.Lock()
	if !s.paceQueued {
		s.paceQueued = true
		p.woken = append(p.woken, s)
	}
	start := !p.running
	p.running = true
	p.mu.Unlock()
	if start {
		go p.loop()
		return
	}
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *pacer) loop() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var woken []*Session
	for {
		p.mu.Lock()
		woken, p.woken = p.woken, woken[:0]
		for _, s := range woken {
			s.paceQueued = false
		}
		if len(woken) == 0 && p.n == 0 {
			// Reset under mu: the next wake may start a new goroutine as
			// soon as running is false.
			p.reset()
			p.running = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		if p.n == 0 {
			p.reset() // nothing scheduled: start the wheel at now
		}
		for i, s := range woken {
			s.paceWake(p)
			woken[i] = nil
		}
		// Run every tick up to now. A slot due just after the last tick
		// waits for the next one, so each session keeps a constant offset
		// from the grid.
		for now := p.tickBefore(time.Now()); p.done < now; {
			p.done++
			i := p.done % wheelSlots
			list := p.wheel[i]
			p.wheel[i] = p.spare
			for _, s := range list {
				switch st := s.tx; {
				case !st.paceIn || st.paceTick%wheelSlots != i:
					// stale: the session's slot moved or went
				case st.paceTick == p.done:
					st.paceIn = false
					p.n--
					s.paceDue(p, p.tickTime(p.done))
				case st.paceTick > p.done:
					// A turn or more ahead: a loop that woke very late
					// (descheduled) scheduled past the wheel's turn.
					p.wheel[i] = append(p.wheel[i], s)
				}
			}
			clear(list)
			p.spare = list[:0]
		}
		p.flushShared() // one batch per shared socket for the pass
		if p.n == 0 {
			continue // exits unless woken meanwhile
		}
		next := p.done + 1
		for ; next < p.done+wheelSlots && len(p.wheel[next%wheelSlots]) == 0; next++ {
		}
		timer.Reset(time.Until(p.tickTime(next)))
		select {
		case <-p.kick:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// reset empties the wheel (only stale entries are left when no session
// has a slot) and starts it at the current tick.
func (p *pacer) reset() {
	for i := range p.wheel {
		clear(p.wheel[i])
		p.wheel[i] = p.wheel[i][:0]
	}
	p.done = p.tickBefore(time.Now())
}

// schedule gives s a slot at st.next (the first tick at or after it, and
// never one already run), or moves the one it has. unschedule drops it.
// Called from the loop with s.txMu held; the sendState's pace fields belong
// to the loop.
func (p *pacer) schedule(s *Session, st *sendState) {
	k := max(p.tickAfter(st.next), p.done+1)
	if st.paceIn {
		if st.paceTick == k {
			return
		}
	} else {
		p.n++
	}
	st.paceIn, st.paceTick = true, k
	p.wheel[k%wheelSlots] = append(p.wheel[k%wheelSlots], s)
}

func (p *pacer) unschedule(st *sendState) {
	if st.paceIn {
		st.paceIn = false
		p.n--
	}
}
