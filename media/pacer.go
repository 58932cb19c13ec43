package media

import (
	"container/heap"
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

	h slotHeap // owned by the running goroutine
}

func newPacer() *pacer { return &pacer{epoch: time.Now(), kick: make(chan struct{}, 1)} }

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
		if len(woken) == 0 && len(p.h) == 0 {
			p.running = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		for i, s := range woken {
			s.paceWake(p)
			woken[i] = nil
		}
		// Every slot due by the last grid point goes now; one due just
		// after it waits for the next, so each session keeps a constant
		// offset from the grid.
		tick := p.epoch.Add(time.Now().Sub(p.epoch) / paceGrid * paceGrid)
		for len(p.h) > 0 && !p.h[0].at.After(tick) {
			s := heap.Pop(&p.h).(slot).s
			s.paceDue(p, tick)
		}
		if len(p.h) == 0 {
			continue // exits unless woken meanwhile
		}
		at := p.h[0].at
		timer.Reset(time.Until(p.epoch.Add((at.Sub(p.epoch) + paceGrid - 1) / paceGrid * paceGrid)))
		select {
		case <-p.kick:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// schedule puts s's next slot (st.next) in the heap, or moves the one
// there. unschedule takes it out. Called from the loop with s.txMu held;
// the sendState's pace fields belong to the loop.
func (p *pacer) schedule(s *Session, st *sendState) {
	if st.paceIn {
		if e := &p.h[st.paceIdx]; !e.at.Equal(st.next) {
			e.at = st.next
			heap.Fix(&p.h, st.paceIdx)
		}
		return
	}
	st.paceIn = true
	heap.Push(&p.h, slot{at: st.next, s: s})
}

func (p *pacer) unschedule(st *sendState) {
	if st.paceIn {
		heap.Remove(&p.h, st.paceIdx)
		st.paceIn = false
	}
}

// slot is one session's next frame time; a session has at most one.
type slot struct {
	at time.Time
	s  *Session
}

type slotHeap []slot

func (h slotHeap) Len() int           { return len(h) }
func (h slotHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h slotHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].s.tx.paceIdx, h[j].s.tx.paceIdx = i, j
}
func (h *slotHeap) Push(x any) {
	e := x.(slot)
	e.s.tx.paceIdx = len(*h)
	*h = append(*h, e)
}
func (h *slotHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = slot{}
	*h = old[:len(old)-1]
	return e
}
