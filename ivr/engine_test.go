package ivr

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/store"
)

var monday10 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.FixedZone("+07", 7*3600))

const menuFlow = `
flow: t
languages: [en]
nodes:
  main:
    type: menu
    prompts: [menu]
    options: {"1": one, "2": two, "0": zero}
    retries: 1
    invalid_prompts: [invalid]
    timeout_prompts: [no-input]
    exhausted: tired
  one: {type: hangup, prompts: [bye]}
  two: {type: hangup}
  zero: {type: hangup}
  tired: {type: hangup}
`

// withMenu adds a field to menuFlow's main node.
func withMenu(field string) string {
	return replaceOnce(menuFlow, "    exhausted: tired\n", "    exhausted: tired\n    "+field+"\n")
}

func replaceOnce(s, old, new string) string { return strings.Replace(s, old, new, 1) }

type engineCase struct {
	name    string
	flow    string
	caller  string
	at      time.Time
	presses []press
	// inputs, instead of timed presses: one input event per wait (keys;
	// "-" lets it time out; "hangup" ends the call there), sent when the
	// engine waits for it (inputCall).
	inputs      []string
	cfg         func(*Config)
	wantPath    string
	wantOutcome store.Outcome
	wantReason  string
	wantPlayed  string
	wantVars    map[string]string
	check       func(t *testing.T, r Result, evs []events.Event)
}

func runCase(t *testing.T, tc engineCase) {
	t.Helper()
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		at := tc.at
		if at.IsZero() {
			at = monday10
		}
		bus := events.NewBus()
		sub := bus.Subscribe(1024)
		defer sub.Close()
		cfg := Config{Prompts: lib{}, Bus: bus, Clock: newTestClock(at),
			Calendars: map[string]config.Calendar{"office": {TimeZone: "Asia/Ho_Chi_Minh",
				Hours:    map[string][]string{"mon": {"08:00-12:00", "13:00-17:30"}, "sat": {"08:00-12:00"}},
				Holidays: []string{"2026-12-25"}}}}
		if tc.cfg != nil {
			tc.cfg(&cfg)
		}
		e, err := NewEngine(cfg)
		if err != nil {
			t.Fatal(err)
		}
		caller := tc.caller
		if caller == "" {
			caller = "+84281234567"
		}
		call := newFakeCall(caller)
		ctx, cancel := context.WithCancel(t.Context())
		if q, ok := cfg.Enqueuer.(*fakeQueue); ok {
			q.cancel = cancel
		}
		var wg sync.WaitGroup
		wg.Go(func() { call.script(ctx, tc.presses) })
		var c Call = call
		if tc.inputs != nil {
			c = &inputCall{fakeCall: call, inputs: tc.inputs, hangup: cancel}
		}
		res := e.Run(ctx, c, mustFlow(t, tc.flow))
		cancel()
		wg.Wait()
		if got := pathString(res); got != tc.wantPath {
			t.Errorf("path = %q, want %q", got, tc.wantPath)
		}
		if res.Outcome != tc.wantOutcome || (tc.wantReason != "" && res.HangupReason != tc.wantReason) {
			t.Errorf("outcome = %q/%q, want %q/%q (err %v)", res.Outcome, res.HangupReason, tc.wantOutcome, tc.wantReason, res.Err)
		}
		if tc.wantPlayed != "" && call.Played() != tc.wantPlayed {
			t.Errorf("played = %q, want %q", call.Played(), tc.wantPlayed)
		}
		for k, v := range tc.wantVars {
			if res.Vars[k] != v {
				t.Errorf("var %s = %q, want %q", k, res.Vars[k], v)
			}
		}
		evs := drain(sub)
		for _, ev := range evs {
			if ev.CallID != "call-1" {
				t.Fatalf("event without call id: %+v", ev)
			}
		}
		if tc.check != nil {
			tc.check(t, res, evs)
		}
	})
}

func TestMenu(t *testing.T) {
	done := store.OutcomeCompleted
	tests := []engineCase{
		{name: "choice after prompt", flow: menuFlow, presses: []press{{1500 * time.Millisecond, '1'}},
			wantPath: "main[1] one", wantOutcome: done, wantReason: ReasonHangup, wantPlayed: "en/menu en/bye"},
		{name: "timeout re-prompts then exhausted", flow: menuFlow,
			wantPath: "main tired", wantOutcome: done, wantPlayed: "en/menu en/no-input en/menu"},
		{name: "invalid then valid", flow: menuFlow,
			presses:  []press{{2 * time.Second, '7'}, {5 * time.Second, '2'}},
			wantPath: "main[7 2] two", wantOutcome: done, wantPlayed: "en/menu en/invalid en/menu"},
		{name: "invalid twice exhausts", flow: menuFlow,
			presses:  []press{{2 * time.Second, '7'}, {5 * time.Second, '8'}},
			wantPath: "main[7 8] tired", wantOutcome: done},
		{name: "barge-in stops the prompt", flow: menuFlow, presses: []press{{500 * time.Millisecond, '0'}},
			wantPath: "main[0] zero", wantOutcome: done, wantPlayed: "en/menu!",
			check: func(t *testing.T, _ Result, evs []events.Event) {
				for _, ev := range evs {
					if p, ok := ev.Payload.(PromptPlay); ok && ev.Type == events.PromptPlayed && p.Prompt == "menu" {
						if !p.Interrupted || p.DurationMS != 500 {
							t.Errorf("prompt event %+v: want interrupted after 500ms", p)
						}
						return
					}
				}
				t.Error("no prompt event")
			}},
		{name: "no barge-in discards keys during the prompt", flow: withMenu("barge_in: false"),
			presses:  []press{{500 * time.Millisecond, '0'}, {1500 * time.Millisecond, '2'}},
			wantPath: "main[2] two", wantOutcome: done, wantPlayed: "en/menu",
			check: func(t *testing.T, _ Result, evs []events.Event) {
				n := 0
				for _, ev := range evs {
					if p, ok := ev.Payload.(DigitPress); ok && ev.Type == events.DigitPressed && p.Discarded {
						n++
					}
				}
				if n != 1 {
					t.Errorf("discarded digit events = %d, want 1", n)
				}
			}},
		{name: "on_timeout skips the re-prompt", flow: withMenu("on_timeout: two"),
			wantPath: "main two", wantOutcome: done, wantPlayed: "en/menu"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runCase(t, tc) })
	}
}

const multiFlow = `
flow: t
languages: [en]
nodes:
  main:
    type: menu
    prompts: [menu]
    options: {"1": one, "10": ten, "2": two}
    inter_digit_timeout: 2s
    exhausted: two
  one: {type: hangup}
  ten: {type: hangup}
  two: {type: hangup}
`

func TestMenuMultiDigit(t *testing.T) {
	done := store.OutcomeCompleted
	tests := []engineCase{
		{name: "second key within inter-digit", flow: multiFlow,
			presses:  []press{{1500 * time.Millisecond, '1'}, {2500 * time.Millisecond, '0'}},
			wantPath: "main[10] ten", wantOutcome: done},
		{name: "inter-digit timeout takes the short option", flow: multiFlow,
			presses:  []press{{1500 * time.Millisecond, '1'}, {4 * time.Second, '0'}},
			wantPath: "main[1] one", wantOutcome: done},
		{name: "a key that starts nothing fails at once", flow: multiFlow,
			presses:  []press{{1500 * time.Millisecond, '2'}},
			wantPath: "main[2] two", wantOutcome: done},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runCase(t, tc) })
	}
}

func keys(at time.Duration, step time.Duration, s string) []press {
	var out []press
	for i, k := range s {
		out = append(out, press{at + time.Duration(i)*step, k})
	}
	return out
}

func TestHangupByCaller(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		e, _ := NewEngine(Config{Prompts: lib{}})
		call := newFakeCall("+1")
		// The caller hangs up 3 s (fake time) into the menu's wait.
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		res := e.Run(ctx, call, mustFlow(t, menuFlow))
		if res.Outcome != store.OutcomeAbandonedIVR || res.HangupReason != ReasonCaller || pathString(res) != "main" {
			t.Errorf("result %+v", res)
		}
	})
}

func TestMaxStepsStopsARuntimeLoop(t *testing.T) {
	runCase(t, engineCase{name: "loop", flow: "flow: t\nlanguages: [en]\nnodes:\n  a: {type: goto, next: b}\n  b: {type: goto, next: a}\n",
		cfg:      func(c *Config) { c.MaxSteps = 4 },
		wantPath: "a b a b", wantOutcome: store.OutcomeFailed, wantReason: ReasonMaxSteps})
}
