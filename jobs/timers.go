package jobs

import (
	"container/heap"
	"time"
)

// Timer is one entry of a Timers heap: a job (V) and when it is due. The
// zero Timer is disarmed; keep it in the job's own struct so arming it
// again moves it rather than adding a second one.
type Timer[V any] struct {
	At  time.Time
	V   V
	idx int // in the heap, plus one; 0 when not
}

// Armed reports whether t is in a heap.
func (t *Timer[V]) Armed() bool { return t.idx > 0 }

// Timers is a min-heap of timers by At: the owner's loop sleeps until
// Peek().At instead of polling the database. Not safe for concurrent use
// (the owner's lock guards it).
type Timers[V any] struct{ h timerHeap[V] }

// Set arms t at at, moving it when it is armed already.
func (ts *Timers[V]) Set(t *Timer[V], at time.Time) {
	t.At = at
	if t.idx > 0 {
		heap.Fix(&ts.h, t.idx-1)
		return
	}
	heap.Push(&ts.h, t)
}

// Stop disarms t (nothing when it is not armed).
func (ts *Timers[V]) Stop(t *Timer[V]) {
	if t.idx > 0 {
		heap.Remove(&ts.h, t.idx-1)
	}
}

// Peek is the earliest timer, nil when none.
func (ts *Timers[V]) Peek() *Timer[V] {
	if len(ts.h) == 0 {
		return nil
	}
	return ts.h[0]
}

// PopDue removes and returns the earliest timer when it is due at now.
func (ts *Timers[V]) PopDue(now time.Time) *Timer[V] {
	if t := ts.Peek(); t != nil && !t.At.After(now) {
		heap.Pop(&ts.h)
		return t
	}
	return nil
}

// Len is how many timers are armed.
func (ts *Timers[V]) Len() int { return len(ts.h) }

type timerHeap[V any] []*Timer[V]

func (h timerHeap[V]) Len() int           { return len(h) }
func (h timerHeap[V]) Less(i, j int) bool { return h[i].At.Before(h[j].At) }
func (h timerHeap[V]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i+1, j+1
}
func (h *timerHeap[V]) Push(x any) {
	t := x.(*Timer[V])
	t.idx = len(*h) + 1
	*h = append(*h, t)
}
func (h *timerHeap[V]) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.idx = 0
	*h = old[:len(old)-1]
	return t
}

// Reset disarms every timer (a reload that rebuilds its jobs).
func (ts *Timers[V]) Reset() {
	for _, t := range ts.h {
		t.idx = 0
	}
	clear(ts.h)
	ts.h = ts.h[:0]
}
