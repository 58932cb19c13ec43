// Package caller is the test caller: it places a real SIP call, sends DTMF on
// a schedule, records what it hears and reports what happened. `hotline dial`
// and the end-to-end tests and benchmarks use it.
package caller

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Step is one digit to send at an offset after answer.
type Step struct {
	Key rune
	At  time.Duration
}

const (
	maxSteps  = 256
	maxOffset = time.Hour
)

// ParseSchedule reads "1@3s,2@6s,#@7.5s": key@offset items, comma separated.
// Keys are 0-9, *, #, A-D; offsets are Go durations from answer. The result
// is ordered by offset (stable for equal offsets).
func ParseSchedule(s string) ([]Step, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	items := strings.Split(s, ",")
	if len(items) > maxSteps {
		return nil, fmt.Errorf("digits: %d items, at most %d", len(items), maxSteps)
	}
	steps := make([]Step, 0, len(items))
	for i, it := range items {
		raw := strings.TrimSpace(it)
		fail := func(msg string) error {
			return fmt.Errorf("digits: item %d %q: %s", i+1, raw, msg)
		}
		k, at, ok := strings.Cut(raw, "@")
		if !ok {
			return nil, fail("want key@offset, e.g. 1@3s")
		}
		r := []rune(k)
		if len(r) != 1 || !validKey(r[0]) {
			return nil, fail("key must be 0-9, *, #, A-D")
		}
		d, err := time.ParseDuration(at)
		if err != nil {
			return nil, fail("offset must be a duration like 3s or 1.5s")
		}
		if d < 0 || d > maxOffset {
			return nil, fail("offset must be between 0 and 1h")
		}
		steps = append(steps, Step{Key: r[0], At: d})
	}
	slices.SortStableFunc(steps, func(a, b Step) int { return int(a.At - b.At) })
	return steps, nil
}

func validKey(k rune) bool {
	return k >= '0' && k <= '9' || k == '*' || k == '#' || k >= 'A' && k <= 'D'
}
