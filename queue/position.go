package queue

import (
	"fmt"
	"time"
)

// Position returns the caller's position (1 = next) and EWT. The position
// never goes up between calls: a VIP overtaking does not make a caller hear
// a larger number. EWT = position / (answers in the last EWTWindow / window).
func (s *Service) Position(callID string) (Position, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[callID]
	if !ok {
		return Position{}, fmt.Errorf("position %q: %w", callID, ErrUnknownCall)
	}
	q := s.queues[e.queue]
	return s.position(q, q.placeOf(e)), nil
}

// Positions is Position for every waiting caller, by call ID, under one
// lock and in one pass over each queue's order (the cluster's leader
// writes them all into every view: Position per caller was a lock and a
// binary search each, 9,000 of them at a time).
func (s *Service) Positions() map[string]Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Position, len(s.entries))
	for _, q := range s.queues {
		for i, e := range q.waiting.all {
			if s.entries[e.callID] != e {
				continue // a callback's placeholder
			}
			out[e.callID] = s.position(q, q.clamp(e, i+1))
		}
	}
	// A caller not in its queue's order (none expected) gets Position's
	// answer all the same.
	if len(out) < len(s.entries) {
		for id, e := range s.entries {
			if _, ok := out[id]; !ok {
				q := s.queues[e.queue]
				out[id] = s.position(q, q.placeOf(e))
			}
		}
	}
	return out
}

// placeOf is e's position in q (1 = next), never more than the caller was
// last told.
func (q *queueState) placeOf(e *entry) int {
	return q.clamp(e, 1+q.waiting.rank(e))
}

// clamp is pos (e's rank now), never more than e was last told, and
// remembered as told.
func (q *queueState) clamp(e *entry, pos int) int {
	if e.lastPos > 0 && pos > e.lastPos {
		pos = e.lastPos
	}
	e.lastPos = pos
	return pos
}

// position is pos in q with its EWT.
func (s *Service) position(q *queueState, pos int) Position {
	p := Position{Position: pos}
	now := s.cfg.Now()
	q.pruneAnswers(now, s.cfg.EWTWindow)
	if n := len(q.answers); n > 0 {
		p.Known = true
		p.EWT = time.Duration(float64(pos) * float64(s.cfg.EWTWindow) / float64(n))
	}
	return p
}

func (q *queueState) pruneAnswers(now time.Time, w time.Duration) {
	i := 0
	for i < len(q.answers) && now.Sub(q.answers[i]) > w {
		i++
	}
	q.answers = q.answers[i:]
}
