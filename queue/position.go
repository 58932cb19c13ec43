package queue

import (
	"fmt"
	"sort"
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

// placeOf is e's position in q (1 = next), never more than the caller was
// last told.
func (q *queueState) placeOf(e *entry) int {
	pos := 1 + sort.Search(len(q.waiting), func(i int) bool { return !entryLess(q.waiting[i], e) })
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
