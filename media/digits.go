package media

import (
	"sync"
	"time"
)

// DefaultDedupWindow is how close (by press start) the same key from two
// different sources must be to count as one press: phones often send a key
// both as RFC 4733 events and as SIP INFO, or leak the tones inband too.
const DefaultDedupWindow = 500 * time.Millisecond

// digitsBuffer is the capacity of the Digits channel. A caller cannot type
// faster than ~10 keys/s; if the consumer stalls this long, later digits are
// dropped (and counted) rather than stalling the RTP reader.
const digitsBuffer = 32

// digitQueue de-duplicates digits across sources and delivers them without
// ever blocking the producer (the RTP reader or the SIP INFO handler).
type digitQueue struct {
	ch     chan Digit
	window time.Duration

	mu     sync.Mutex
	recent [4]Digit // last accepted digits, newest at recent[(next-1)%4]
	next   int
	// delivered counts per source (rfc4733, info, inband): three fields
	// rather than a map, which cost ~0.3 KiB per session (issue 15).
	rfc4733, info, inband uint64
	dups                  uint64
	dropped               uint64
}

func newDigitQueue(window time.Duration) *digitQueue {
	if window <= 0 {
		window = DefaultDedupWindow
	}
	return &digitQueue{ch: make(chan Digit, digitsBuffer), window: window}
}

// push delivers d unless the same key came from another source within the
// window. Each source's own logic already yields one digit per press, so a
// same-source repeat (a caller pressing 5 twice) is always a new digit.
func (q *digitQueue) push(d Digit) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, r := range q.recent {
		if r.Key == d.Key && r.Source != d.Source && r.Source != "" && absDur(d.At.Sub(r.At)) <= q.window {
			q.dups++
			return false
		}
	}
	q.recent[q.next%len(q.recent)] = d
	q.next++
	select {
	case q.ch <- d:
		switch d.Source {
		case SourceRFC4733:
			q.rfc4733++
		case SourceINFO:
			q.info++
		case SourceInband:
			q.inband++
		}
		return true
	default:
		q.dropped++
		return false
	}
}

func (q *digitQueue) stats(s *Stats) {
	q.mu.Lock()
	defer q.mu.Unlock()
	s.DigitsRFC4733, s.DigitsINFO, s.DigitsInband = q.rfc4733, q.info, q.inband
	s.DigitsDuplicate = q.dups
	s.DigitsDropped = q.dropped
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
