package callback

import "fmt"

// DebugEntry describes callback id's entry in memory (tests' failure messages).
func (s *Scheduler) DebugEntry(id int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[id]
	if e == nil {
		return "no entry"
	}
	return fmt.Sprintf("state %s inLine %v busy %v suspect %v dial %v timer at %v (armed %v) version %d notBefore %v",
		e.cb.State, e.inLine, e.busy, e.suspect, e.dial != nil, e.t.At, e.t.Armed(), e.cb.Version, e.cb.NotBefore)
}
