package ivr

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/flows"
	"github.com/hotline-dev/hotline/media"
)

// press is one scripted key, sent `at` after the call starts (fake time).
type press struct {
	at  time.Duration
	key rune
}

// fakeCall plays prompts for their duration (fake time under synctest) or
// instantly, and sends scripted digits from a goroutine it owns.
type fakeCall struct {
	caller  string
	instant bool
	digits  chan media.Digit

	mu     sync.Mutex
	played []string // "lang/name", with "!" appended when interrupted
}

func newFakeCall(caller string) *fakeCall {
	return &fakeCall{caller: caller, digits: make(chan media.Digit, 32)}
}

func (c *fakeCall) ID() string                 { return "call-1" }
func (c *fakeCall) Caller() string             { return c.caller }
func (c *fakeCall) Called() string             { return "100" }
func (c *fakeCall) Digits() <-chan media.Digit { return c.digits }

func (c *fakeCall) Play(ctx context.Context, ps ...*media.Prompt) error {
	for _, p := range ps {
		if !c.instant {
			t := time.NewTimer(p.Duration())
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				c.record(p.Name + "!")
				return ctx.Err()
			}
		}
		c.record(p.Name)
	}
	return nil
}

func (c *fakeCall) record(s string) {
	c.mu.Lock()
	c.played = append(c.played, s)
	c.mu.Unlock()
}

func (c *fakeCall) Played() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.played, " ")
}

// script sends the presses at their times; it returns when done or ctx ends.
func (c *fakeCall) script(ctx context.Context, presses []press) {
	start := time.Now()
	for _, p := range presses {
		t := time.NewTimer(p.at - time.Since(start))
		select {
		case <-t.C:
			c.digits <- media.Digit{Key: p.key, Source: media.SourceRFC4733, At: time.Now(), Duration: 100 * time.Millisecond}
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

// lib has every prompt in en (1 s of silence) and, in vi, every prompt
// whose name does not end in "-en".
type lib struct{}

func (lib) Prompt(lang, name string) (*media.Prompt, error) {
	if strings.HasPrefix(name, "none") || (lang == "vi" && strings.HasSuffix(name, "-en")) || (lang != "en" && lang != "vi") {
		return nil, fmt.Errorf("%w: %s/%s", media.ErrPromptNotFound, lang, name)
	}
	return media.NewPromptPCM(lang+"/"+name, make([]int16, media.SampleRate)), nil
}

// testClock is real (synctest-faked) time shifted to a chosen moment.
type testClock struct {
	base, start time.Time
}

func newTestClock(at time.Time) testClock { return testClock{base: at, start: time.Now()} }

func (c testClock) Now() time.Time { return c.base.Add(time.Since(c.start)) }
func (c testClock) After(d time.Duration) (<-chan time.Time, func()) {
	return realClock{}.After(d)
}

func mustFlow(t *testing.T, src string) *flows.Flow {
	t.Helper()
	f, ps := flows.Parse("test.yaml", []byte(src))
	if flows.HasErrors(ps) {
		t.Fatalf("flow does not parse: %v", ps)
	}
	return f
}

// pathString renders a result path as "node[digits] node ...".
func pathString(r Result) string {
	var parts []string
	for _, s := range r.Path {
		if s.Digits != "" {
			parts = append(parts, s.Node+"["+s.Digits+"]")
		} else {
			parts = append(parts, s.Node)
		}
	}
	return strings.Join(parts, " ")
}

// drain returns the events published so far.
func drain(sub *events.Subscription) []events.Event {
	var out []events.Event
	for {
		select {
		case e := <-sub.C:
			out = append(out, e)
		default:
			return out
		}
	}
}

// inputCall sends its scripted input events when the engine waits for
// one (as the simulator does), so a dialogue's test needs no timings.
type inputCall struct {
	*fakeCall
	inputs []string
	next   int
	hangup context.CancelFunc
}

func (c *inputCall) WaitingForInput(string) {
	if c.next >= len(c.inputs) {
		return // the rest time out
	}
	in := c.inputs[c.next]
	c.next++
	switch in {
	case "-":
	case "hangup":
		c.hangup()
	default:
		for _, k := range in {
			c.digits <- media.Digit{Key: k, Source: media.SourceRFC4733, At: time.Now(), Duration: 100 * time.Millisecond}
		}
	}
}

func (c *inputCall) InputDone(string) {}
