package ivr

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/store"
)

// cbFlow: a callback from the IVR (queue operator), then goodbye.
const cbFlow = `
flow: t
languages: [en, vi]
nodes:
  cb: {type: callback, queue: operator, next: bye}
  bye: {type: hangup, prompts: [bye]}
`

// vhFlow: virtual hold: the caller waits in technical, presses the
// queue's callback key (the fake queue sends them to cb).
const vhFlow = `
flow: t
languages: [en]
nodes:
  q: {type: enqueue, queue: technical, next: cb}
  cb: {type: callback, queue: operator, next: bye}
  bye: {type: hangup, prompts: [bye]}
`

// said renders prompt names as played ("en/" prefixes added).
func said(lang string, names ...string) string {
	var out []string
	for _, n := range names {
		for _, f := range strings.Fields(n) {
			out = append(out, lang+"/"+f)
		}
	}
	return strings.Join(out, " ")
}

const (
	ending567 = "callback-number-ending digit-5 digit-6 digit-7 callback-confirm-number" // the default caller +84281234567
	ending678 = "callback-number-ending digit-6 digit-7 digit-8 callback-confirm-number" // 0912345678, typed in
	typed     = "0912345678#"
)

var tuesday8 = time.Date(2026, 11, 24, 8, 0, 0, 0, time.FixedZone("+07", 7*3600))

func TestCallbackDialogue(t *testing.T) {
	cb := &fakeCallbacks{}
	q := &fakeQueue{}
	booked := CallbackReceipt{ID: 7, Version: 1, Position: 3, FirstCall: monday10, OpenNow: true}
	with := func(f fakeCallbacks) func(*Config) {
		return func(c *Config) {
			if f.answers == nil && f.err == nil && f.receipt == (CallbackReceipt{}) {
				f.receipt = booked
			}
			*cb = f
			c.Callbacks = cb
		}
	}
	inQueue := func(pos int, f fakeCallbacks) func(*Config) {
		return func(c *Config) {
			with(f)(c)
			*q = fakeQueue{res: QueueResult{Reason: "exit-key", Position: pos, Legs: []store.CallLeg{waited("technical", "exit-key")}}}
			c.Enqueuer = q
		}
	}
	numbers := func(t *testing.T, want ...string) {
		t.Helper()
		var got []string
		for _, r := range cb.got {
			got = append(got, r.Number)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("requested numbers %v, want %v", got, want)
		}
	}
	status := func(want string, id int64) func(*testing.T, Result) {
		return func(t *testing.T, r Result) {
			t.Helper()
			if r.CallbackStatus != want || r.CallbackID != id {
				t.Errorf("callback %q/%d, want %q/%d", r.CallbackStatus, r.CallbackID, want, id)
			}
		}
	}
	tests := []struct {
		engineCase
		numbers []string
		result  func(*testing.T, Result)
	}{
		{engineCase: engineCase{name: "confirm with 1: open now, booked", flow: cbFlow, cfg: with(fakeCallbacks{}), inputs: []string{"1"},
			wantPath: "cb[1] bye", wantOutcome: store.OutcomeCallbackRequested, wantReason: ReasonHangup,
			// the position comes from the receipt when the queue gave none
			wantPlayed: said("en", ending567, "callback-position number-3 callback-booked bye")},
			numbers: []string{"+84281234567"}, result: status(CallbackBooked, 7)},
		{engineCase: engineCase{name: "virtual hold: the queue's position first, the place kept", flow: vhFlow, cfg: inQueue(4, fakeCallbacks{}),
			inputs: []string{"1"}, wantPath: "q cb[1] bye", wantOutcome: store.OutcomeCallbackRequested,
			wantPlayed: said("en", "callback-position number-4", ending567, "callback-booked bye"),
			check: func(t *testing.T, _ Result, _ []events.Event) {
				if r := cb.got[0]; r.Queue != "technical" || !r.JoinedAt.Equal(legT0) || r.Language != "en" {
					t.Errorf("request %+v", r)
				}
			}},
			numbers: []string{"+84281234567"}, result: status(CallbackBooked, 7)},
		{engineCase: engineCase{name: "2, then another number, confirmed", flow: cbFlow, cfg: with(fakeCallbacks{}), inputs: []string{"2", typed, "1"},
			wantPath: "cb[2 0912345678# 1] bye", wantOutcome: store.OutcomeCallbackRequested,
			wantPlayed: said("en", ending567, "callback-enter-number", ending678, "callback-position number-3 callback-booked bye")},
			numbers: []string{"0912345678"}},
		{engineCase: engineCase{name: "an invalid number is refused and asked again", flow: cbFlow, cfg: with(fakeCallbacks{}),
			inputs: []string{"2", "12#", "-", typed, "1"}, wantPath: "cb[2 12# 0912345678# 1] bye", wantOutcome: store.OutcomeCallbackRequested,
			wantPlayed: said("en", ending567, "callback-enter-number callback-number-refused callback-enter-number callback-enter-number",
				ending678, "callback-position number-3 callback-booked bye")},
			numbers: []string{"0912345678"}},
		{engineCase: engineCase{name: "no number after the retries: not taken", flow: cbFlow, cfg: with(fakeCallbacks{}),
			caller: "anonymous", inputs: []string{"12#", "*1234567#", "-", "-"}, wantPath: "cb[12# *1234567#] bye", wantOutcome: store.OutcomeCompleted,
			wantPlayed: said("en", "callback-enter-number callback-number-refused callback-enter-number callback-number-refused",
				"callback-enter-number callback-enter-number callback-not-taken bye")},
			numbers: nil, result: status(CallbackRefused, 0)},
		{engineCase: engineCase{name: "an anonymous caller is asked for a number at once", flow: cbFlow, cfg: with(fakeCallbacks{}),
			caller: "anonymous", inputs: []string{typed, "1"}, wantPath: "cb[0912345678# 1] bye", wantOutcome: store.OutcomeCallbackRequested,
			wantPlayed: said("en", "callback-enter-number", ending678, "callback-position number-3 callback-booked bye")},
			numbers: []string{"0912345678"}},
		{engineCase: engineCase{name: "an extension is no number to call back", flow: cbFlow, cfg: with(fakeCallbacks{}),
			caller: "1001", inputs: []string{typed, "1"}, wantPath: "cb[0912345678# 1] bye", wantOutcome: store.OutcomeCallbackRequested},
			numbers: []string{"0912345678"}},
		{engineCase: engineCase{name: "confirm_key and another_key from the node", flow: strings.Replace(cbFlow, "next: bye}", "confirm_key: \"5\", another_key: \"*\", next: bye}", 1),
			cfg: with(fakeCallbacks{}), inputs: []string{"1", "*", typed, "5"}, wantPath: "cb[1 * 0912345678# 5] bye", wantOutcome: store.OutcomeCallbackRequested},
			numbers: []string{"0912345678"}},
		{engineCase: engineCase{name: "never confirmed: not taken, nothing requested", flow: strings.Replace(cbFlow, "next: bye}", "retries: 1, next: bye}", 1),
			cfg: with(fakeCallbacks{}), inputs: []string{"-", "7"}, wantPath: "cb[7] bye", wantOutcome: store.OutcomeCompleted,
			wantPlayed: said("en", ending567, ending567, "callback-not-taken bye")},
			numbers: nil, result: status(CallbackDeclined, 0)},
		{engineCase: engineCase{name: "existing request: 2 cancels it", flow: cbFlow,
			cfg:    with(fakeCallbacks{receipt: CallbackReceipt{ID: 4, Version: 3, Position: 4, Existing: true, OpenNow: true}}),
			inputs: []string{"1", "2"}, wantPath: "cb[1 2] bye", wantOutcome: store.OutcomeCompleted,
			wantPlayed: said("en", ending567, "callback-existing number-4 callback-existing-menu callback-cancelled bye"),
			check: func(t *testing.T, _ Result, _ []events.Event) {
				if len(cb.cancelled) != 1 || cb.cancelled[0] != 4 {
					t.Errorf("cancelled %v", cb.cancelled)
				}
			}},
			numbers: []string{"+84281234567"}, result: status(CallbackCancelled, 4)},
		{engineCase: engineCase{name: "existing request: silence keeps it", flow: cbFlow,
			cfg:    with(fakeCallbacks{receipt: CallbackReceipt{ID: 4, Version: 3, Position: 4, Existing: true, OpenNow: true}}),
			inputs: []string{"1", "-"}, wantPath: "cb[1] bye", wantOutcome: store.OutcomeCallbackRequested,
			wantPlayed: said("en", ending567, "callback-existing number-4 callback-existing-menu callback-booked bye"),
			check: func(t *testing.T, _ Result, _ []events.Event) {
				if len(cb.cancelled) != 0 {
					t.Errorf("cancelled %v", cb.cancelled)
				}
			}},
			result: status(CallbackExisting, 4)},
		{engineCase: engineCase{name: "existing request, scheduled for later: its time", flow: cbFlow,
			cfg:    with(fakeCallbacks{receipt: CallbackReceipt{ID: 4, Version: 3, Existing: true, FirstCall: tuesday8}}),
			inputs: []string{"1", "1"}, wantPath: "cb[1 1] bye", wantOutcome: store.OutcomeCallbackRequested,
			wantPlayed: said("en", ending567, "callback-at number-8 time-am day-tomorrow callback-existing-menu callback-booked bye")},
			result: status(CallbackExisting, 4)},
		{engineCase: engineCase{name: "existing request that cannot be cancelled now stands", flow: cbFlow,
			cfg:    with(fakeCallbacks{cancelErr: ErrCallbackUnavailable, receipt: CallbackReceipt{ID: 4, Version: 3, Position: 1, Existing: true}}),
			inputs: []string{"1", "2"}, wantPath: "cb[1 2] bye", wantOutcome: store.OutcomeCallbackRequested,
			wantPlayed: said("en", ending567, "callback-existing number-1 callback-existing-menu callback-not-taken bye")},
			result: status(CallbackExisting, 4)},
		{engineCase: engineCase{name: "closed calendar (en): from eight a.m. tomorrow", flow: cbFlow,
			cfg:    with(fakeCallbacks{receipt: CallbackReceipt{ID: 9, Version: 1, FirstCall: tuesday8}}),
			inputs: []string{"1"}, wantPath: "cb[1] bye", wantOutcome: store.OutcomeCallbackRequested,
			wantPlayed: said("en", ending567, "callback-when-open number-8 time-am day-tomorrow callback-booked bye")},
			result: status(CallbackBooked, 9)},
		{engineCase: engineCase{name: "closed calendar (vi): từ tám giờ ngày mai", flow: strings.Replace(cbFlow, "nodes:\n", "language: vi\nnodes:\n", 1),
			cfg:    with(fakeCallbacks{receipt: CallbackReceipt{ID: 9, Version: 1, FirstCall: tuesday8}}),
			inputs: []string{"1"}, wantPath: "cb[1] bye", wantOutcome: store.OutcomeCallbackRequested,
			wantPlayed: said("vi", ending567, "callback-when-open number-8 time-hour day-tomorrow callback-booked bye"),
			check: func(t *testing.T, _ Result, _ []events.Event) {
				if cb.got[0].Language != "vi" {
					t.Errorf("language %q", cb.got[0].Language)
				}
			}}},
		{engineCase: engineCase{name: "closed calendar (vi), today at 14:30", flow: strings.Replace(cbFlow, "nodes:\n", "language: vi\nnodes:\n", 1),
			cfg:    with(fakeCallbacks{receipt: CallbackReceipt{ID: 9, Version: 1, FirstCall: monday10.Add(4*time.Hour + 30*time.Minute)}}),
			inputs: []string{"1"}, wantPath: "cb[1] bye", wantOutcome: store.OutcomeCallbackRequested,
			wantPlayed: said("vi", ending567, "callback-when-open number-10 number-4 time-hour number-30 time-minute callback-booked bye")}},
		{engineCase: engineCase{name: "refused number: another one", flow: cbFlow,
			cfg:    with(fakeCallbacks{answers: []cbAnswer{{err: fmt.Errorf("premium: %w", ErrCallbackRefused)}}, receipt: booked}),
			inputs: []string{"1", typed, "1"}, wantPath: "cb[1 0912345678# 1] bye", wantOutcome: store.OutcomeCallbackRequested,
			wantPlayed: said("en", ending567, "callback-number-refused callback-enter-number", ending678, "callback-position number-3 callback-booked bye")},
			numbers: []string{"+84281234567", "0912345678"}, result: status(CallbackBooked, 7)},
		{engineCase: engineCase{name: "refused every time: not taken", flow: strings.Replace(cbFlow, "next: bye}", "retries: 0, next: bye}", 1),
			cfg:    with(fakeCallbacks{err: ErrCallbackRefused}),
			inputs: []string{"1"}, wantPath: "cb[1] bye", wantOutcome: store.OutcomeCompleted,
			wantPlayed: said("en", ending567, "callback-number-refused callback-not-taken bye")},
			numbers: []string{"+84281234567"}, result: status(CallbackRefused, 0)},
		{engineCase: engineCase{name: "rate limited: a polite no, the IVR call completed", flow: cbFlow,
			cfg:    with(fakeCallbacks{err: fmt.Errorf("per_number: %w", ErrCallbackRateLimited)}),
			inputs: []string{"1"}, wantPath: "cb[1] bye", wantOutcome: store.OutcomeCompleted,
			wantPlayed: said("en", ending567, "callback-not-taken bye")},
			result: status(CallbackRateLimited, 0)},
		{engineCase: engineCase{name: "rate limited in virtual hold: the queue was abandoned", flow: vhFlow,
			cfg:    inQueue(2, fakeCallbacks{err: ErrCallbackRateLimited}),
			inputs: []string{"1"}, wantPath: "q cb[1] bye", wantOutcome: store.OutcomeAbandonedQueue, wantReason: ReasonHangup},
			result: status(CallbackRateLimited, 0)},
		{engineCase: engineCase{name: "hang-up before confirming: nothing requested", flow: vhFlow, cfg: inQueue(2, fakeCallbacks{}),
			inputs: []string{"hangup"}, wantPath: "q cb", wantOutcome: store.OutcomeAbandonedQueue, wantReason: ReasonCaller},
			numbers: nil, result: status("", 0)},
		{engineCase: engineCase{name: "hang-up while typing a number: nothing requested", flow: cbFlow, cfg: with(fakeCallbacks{}),
			inputs: []string{"2", "hangup"}, wantPath: "cb[2]", wantOutcome: store.OutcomeAbandonedIVR, wantReason: ReasonCaller},
			numbers: nil},
		{engineCase: engineCase{name: "hang-up at the existing menu: it stands", flow: cbFlow,
			cfg:    with(fakeCallbacks{receipt: CallbackReceipt{ID: 4, Version: 3, Position: 2, Existing: true}}),
			inputs: []string{"1", "hangup"}, wantPath: "cb[1]", wantOutcome: store.OutcomeCallbackRequested, wantReason: ReasonCaller},
			result: status(CallbackExisting, 4)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ec := tc.engineCase
			check := ec.check
			ec.check = func(t *testing.T, r Result, evs []events.Event) {
				if tc.numbers != nil || strings.Contains(tc.name, "nothing requested") {
					numbers(t, tc.numbers...)
				}
				if tc.result != nil {
					tc.result(t, r)
				}
				if check != nil {
					check(t, r, evs)
				}
			}
			runCase(t, ec)
		})
	}
}

// atFlow: a chosen time from a variable (as a gather or a lookup would set
// it), read in the office's zone.
func atFlow(value string) string {
	return `
flow: t
languages: [en]
nodes:
  when: {type: set, vars: {callback_at: "` + value + `"}, next: cb}
  cb: {type: callback, queue: operator, at: "{callback_at}", next: bye}
  bye: {type: hangup, prompts: [bye]}
`
}

func TestCallbackChosenTime(t *testing.T) {
	cb := &fakeCallbacks{}
	tuesday10 := tuesday8.Add(2 * time.Hour)
	with := func(f fakeCallbacks) func(*Config) {
		return func(c *Config) {
			*cb = f
			c.Callbacks, c.Location = cb, monday10.Location()
		}
	}
	ats := func(want ...time.Time) func(*testing.T, Result, []events.Event) {
		return func(t *testing.T, r Result, _ []events.Event) {
			t.Helper()
			if len(cb.got) != len(want) {
				t.Fatalf("requests %+v, want %d", cb.got, len(want))
			}
			for i, w := range want {
				if !cb.got[i].At.Equal(w) {
					t.Errorf("request %d at %v, want %v", i, cb.got[i].At, w)
				}
			}
		}
	}
	tests := []engineCase{
		{name: "HH:MM past today is tomorrow: we will call you back at ten a.m. tomorrow", flow: atFlow("10:00"),
			cfg:    with(fakeCallbacks{receipt: CallbackReceipt{ID: 5, Version: 1, FirstCall: tuesday10}}),
			inputs: []string{"1"}, wantPath: "when cb[1] bye", wantOutcome: store.OutcomeCallbackRequested,
			wantPlayed: said("en", ending567, "callback-at number-10 time-am day-tomorrow callback-booked bye"), check: ats(tuesday10)},
		{name: "RFC 3339", flow: atFlow("2026-11-24T10:00:00+07:00"),
			cfg:    with(fakeCallbacks{receipt: CallbackReceipt{ID: 5, Version: 1, FirstCall: tuesday10}}),
			inputs: []string{"1"}, wantPath: "when cb[1] bye", wantOutcome: store.OutcomeCallbackRequested, check: ats(tuesday10)},
		{name: "outside hours: the next opening offered and taken", flow: atFlow("tomorrow 07:00"),
			cfg: with(fakeCallbacks{answers: []cbAnswer{{err: fmt.Errorf("x: %w", &CallbackOutsideHoursError{At: tuesday8.Add(-time.Hour), Next: tuesday8})}},
				receipt: CallbackReceipt{ID: 6, Version: 1, FirstCall: tuesday8}}),
			inputs: []string{"1", "1"}, wantPath: "when cb[1 1] bye", wantOutcome: store.OutcomeCallbackRequested,
			wantPlayed: said("en", ending567, "callback-closed-then number-8 time-am day-tomorrow callback-offer-time",
				"callback-at number-8 time-am day-tomorrow callback-booked bye"),
			check: ats(tuesday8.Add(-time.Hour), tuesday8)},
		{name: "outside hours: the offer declined", flow: atFlow("tomorrow 07:00"),
			cfg:    with(fakeCallbacks{err: &CallbackOutsideHoursError{At: tuesday8.Add(-time.Hour), Next: tuesday8}}),
			inputs: []string{"1", "2"}, wantPath: "when cb[1 2] bye", wantOutcome: store.OutcomeCompleted,
			wantPlayed: said("en", ending567, "callback-closed-then number-8 time-am day-tomorrow callback-offer-time callback-not-taken bye"),
			check: func(t *testing.T, r Result, evs []events.Event) {
				ats(tuesday8.Add(-time.Hour))(t, r, evs)
				if r.CallbackStatus != CallbackDeclined {
					t.Errorf("status %q", r.CallbackStatus)
				}
			}},
		{name: "an unreadable time: as soon as possible", flow: atFlow("soon"),
			cfg:    with(fakeCallbacks{receipt: CallbackReceipt{ID: 5, Version: 1, FirstCall: monday10, OpenNow: true}}),
			inputs: []string{"1"}, wantPath: "when cb[1] bye", wantOutcome: store.OutcomeCallbackRequested,
			wantPlayed: said("en", ending567, "callback-booked bye"), check: ats(time.Time{})},
		{name: "a past time: as soon as possible", flow: atFlow("2026-11-23T09:00:00+07:00"),
			cfg:    with(fakeCallbacks{receipt: CallbackReceipt{ID: 5, Version: 1, FirstCall: monday10, OpenNow: true}}),
			inputs: []string{"1"}, wantPath: "when cb[1] bye", wantOutcome: store.OutcomeCallbackRequested, check: ats(time.Time{})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runCase(t, tc) })
	}
}
