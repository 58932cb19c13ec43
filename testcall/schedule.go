// Package testcall is the test call: it places a real SIP call, sends DTMF on
// a schedule, records what it hears and reports what happened. `hotline dial`
// and the end-to-end tests and benchmarks use it.
package testcall

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/media"
)

// Step is one digit to send at an offset after answer.
type Step struct {
	Key rune
	At  time.Duration
}

const (
	maxSteps  = 256
	maxOffset = time.Hour
	// KeyGap separates the keys of one item ("123456#@10s"): room for a
	// default 160 ms press and the pause a person leaves between keys.
	KeyGap = 300 * time.Millisecond
)

// ParseSchedule reads "1@3s,2@6s,123456#@9s": keys@offset items, comma
// separated. Keys are 0-9, *, #, A-D; several keys in one item (an order
// number for a gather) are pressed KeyGap apart from the offset on. Offsets
// are Go durations from answer. The result is ordered by time (stable for
// equal times).
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
		keys := []rune(k)
		if len(keys) == 0 || len(keys) > 32 {
			return nil, fail("want 1 to 32 keys before @")
		}
		for _, r := range keys {
			if !validKey(r) {
				return nil, fail("key must be 0-9, *, #, A-D")
			}
		}
		d, err := time.ParseDuration(at)
		if err != nil {
			return nil, fail("offset must be a duration like 3s or 1.5s")
		}
		if d < 0 || d > maxOffset {
			return nil, fail("offset must be between 0 and 1h")
		}
		if len(steps)+len(keys) > maxSteps {
			return nil, fmt.Errorf("digits: more than %d keys", maxSteps)
		}
		for j, r := range keys {
			steps = append(steps, Step{Key: r, At: d + time.Duration(j)*KeyGap})
		}
	}
	slices.SortStableFunc(steps, func(a, b Step) int { return int(a.At - b.At) })
	return steps, nil
}

// validKey reports whether k is a DTMF key: 0-9, *, #, A-D (media's key table).
func validKey(k rune) bool {
	_, _, err := media.DTMFFreqs(k)
	return err == nil
}
