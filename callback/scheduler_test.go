package callback_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/store"
)

func ids(ws []callback.Waiting) []int64 {
	out := make([]int64, len(ws))
	for i, w := range ws {
		out[i] = w.ID
	}
	return out
}

// TestVirtualHoldKeepsPlace: callbacks wait in the order their callers
// joined the queue (a VIP ranks 2 minutes earlier, as in the queue), not in
// the order they asked, and the ACD is told the same order.
func TestVirtualHoldKeepsPlace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at(monday9)
		e := newEnv(t, nil)
		now := time.Now()
		c := e.request("technical", "0912000003", now.Add(-3*time.Minute), store.TierStandard)  // joined third
		a := e.request("technical", "0912000001", now.Add(-10*time.Minute), store.TierStandard) // first
		v := e.request("technical", "0912000004", now.Add(-1*time.Minute), store.TierVIP)       // ranks at -3m: after c (same rank, joined later)
		b := e.request("technical", "0912000002", now.Add(-5*time.Minute), store.TierStandard)
		want := []int64{a.ID, b.ID, c.ID, v.ID}
		if got := ids(e.s.Line("technical")); !slices.Equal(got, want) {
			t.Fatalf("scheduler line %v, want %v", got, want)
		}
		if got := ids(e.acd.Line("technical")); !slices.Equal(got, want) {
			t.Fatalf("ACD line %v, want %v", got, want)
		}
		if w := e.acd.Line("technical")[0]; !w.Place.JoinedAt.Equal(now.Add(-10*time.Minute)) || w.Number != "+84912000001" || w.Attempt != 1 {
			t.Fatalf("head = %+v", w)
		}
		got, err := e.s.Get(t.Context(), b.ID)
		if err != nil || got.Status != callback.StatusWaiting || got.Position != 2 || got.DueAt == nil {
			t.Fatalf("get b = %+v, %v", got, err)
		}
		// Dialled in order: the head goes, the rest keep their order.
		head, _, err := e.acd.DialHead(t.Context(), e.s, "technical", 1)
		if err != nil || head.ID != a.ID {
			t.Fatalf("dial head = %+v, %v", head, err)
		}
		if got := ids(e.s.Line("technical")); !slices.Equal(got, want[1:]) {
			t.Fatalf("after the dial the line is %v", got)
		}
		if c := e.call(); c.Req.CallbackID != a.ID || c.Req.Number != "+84912000001" || c.Req.Attempt != 1 || c.Req.ConfirmKey != "1" {
			t.Fatalf("call = %+v", c.Req)
		}
	})
}

// TestClaimCommitsBeforeTheDial: when the Dialer is called, the attempt
// is already in the database with its interaction on the ticket; the
// INVITE's Call-ID is the one recorded.
func TestClaimCommitsBeforeTheDial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at(monday9)
		e := newEnv(t, nil)
		cb := e.request("sales", "+84912000010", time.Now().Add(-time.Minute), "")
		if _, _, err := e.acd.DialHead(t.Context(), e.s, "sales", 1); err != nil {
			t.Fatal(err)
		}
		c := e.call()
		row := e.get(cb.ID)
		if row.State != store.CallbackDialling || row.Attempts != 1 || len(row.Calls) != 1 || row.Calls[0].CallID != c.Req.CallID ||
			row.Calls[0].FromTag != c.Req.FromTag || row.ClaimedBy != e.s.Boot() {
			t.Fatalf("row while the call is placed: %+v", row)
		}
		in, err := e.db.GetInteraction(t.Context(), row.Calls[0].InteractionID)
		if err != nil || in.TicketID != cb.TicketID || in.Voice == nil || in.Voice.CallID != c.Req.CallID {
			t.Fatalf("attempt interaction %+v, %v", in, err)
		}
		c.Confirm()
		synctest.Wait()
		if f, _ := e.s.QueueFigures("sales"); f.Connected != 1 {
			t.Fatalf("figures after confirm: %+v", f)
		}
		c.End(callback.Result{Result: store.AttemptCompleted, SIPStatus: 200, Agent: "lan", Talk: 2 * time.Minute,
			AnsweredAt: time.Now(), ConfirmedAt: time.Now()})
		synctest.Wait()
		row = e.get(cb.ID)
		if row.State != store.CallbackCompleted || row.Calls[0].Result != store.AttemptCompleted || row.Calls[0].Agent != "lan" {
			t.Fatalf("after the call: %+v", row)
		}
		if got := strings.Join(statuses(e.events(), cb.ID), " "); got != "requested waiting dialling connected completed" {
			t.Fatalf("events = %s", got)
		}
		if f, _ := e.s.QueueFigures("sales"); f.Completed != 1 || f.Connected != 0 || f.Waiting != 0 {
			t.Fatalf("figures = %+v", f)
		}
	})
}

// TestRetriesInsideTheCalendar: each failure waits its spacing, then the
// calendar's next open minute (never at night), until the attempts are
// used up; the ticket tells every step.
func TestRetriesInsideTheCalendar(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at(time.Date(2000, 1, 3, 17, 20, 0, 0, time.UTC)) // Monday 17:20, ten minutes before closing
		e := newEnv(t, nil)
		cb := e.request("technical", "+84912000020", time.Now().Add(-time.Minute), "")
		dial := func() *callbackCall {
			t.Helper()
			if _, _, err := e.acd.DialHead(t.Context(), e.s, "technical", 1); err != nil {
				t.Fatalf("dial at %v: %v", time.Now(), err)
			}
			return &callbackCall{e.call()}
		}
		dial().end(store.AttemptNoAnswer, 480)
		// 5 minutes later: 17:25, still open.
		if row := e.get(cb.ID); row.State != store.CallbackWaiting || !row.NotBefore.Equal(time.Date(2000, 1, 3, 17, 25, 0, 0, time.UTC)) {
			t.Fatalf("after the first failure: %+v", row)
		}
		if got := e.acd.Line("technical"); len(got) != 0 {
			t.Fatalf("in line before its spacing: %+v", got)
		}
		at(time.Date(2000, 1, 3, 17, 25, 0, 0, time.UTC))
		dial().end(store.AttemptBusy, 486)
		// 15 minutes after 17:25 is 17:40: closed, so Tuesday 08:00.
		tuesday8 := time.Date(2000, 1, 4, 8, 0, 0, 0, time.UTC)
		if row := e.get(cb.ID); !row.NotBefore.Equal(tuesday8) {
			t.Fatalf("retry after closing set for %v, want %v", row.NotBefore, tuesday8)
		}
		at(tuesday8.Add(-time.Second))
		if got := e.acd.Line("technical"); len(got) != 0 {
			t.Fatalf("offered at night: %+v", got)
		}
		f, _ := e.s.QueueFigures("technical")
		if f.Scheduled != 1 || f.Waiting != 0 {
			t.Fatalf("night figures: %+v", f)
		}
		at(tuesday8)
		dial().end(store.AttemptNoConfirmation, 200) // answered by a machine that never pressed 1
		row := e.get(cb.ID)
		if row.State != store.CallbackFailed || row.Attempts != 3 || !strings.Contains(row.Outcome, "no confirmation after 3 calls") {
			t.Fatalf("after three attempts: %+v", row)
		}
		story, _, err := e.db.ListInteractions(t.Context(), store.InteractionFilter{TicketID: cb.TicketID}, store.Page{})
		if err != nil || len(story) != 5 { // requested, 3 attempts, failed
			t.Fatalf("ticket story: %d interactions, %v", len(story), err)
		}
		if got := strings.Join(statuses(e.events(), cb.ID), " "); got !=
			"requested waiting dialling scheduled waiting dialling scheduled waiting dialling failed" {
			t.Fatalf("events = %s", got)
		}
	})
}

type callbackCall struct {
	c interface{ End(callback.Result) }
}

func (c *callbackCall) end(r store.AttemptResult, sip int) {
	c.c.End(callback.Result{Result: r, SIPStatus: sip})
	synctest.Wait()
}

// TestCalendarClosesTheLine: a callback still waiting at closing time
// leaves the line and comes back at the next opening.
func TestCalendarClosesTheLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at(time.Date(2000, 1, 3, 17, 0, 0, 0, time.UTC)) // Monday 17:00
		e := newEnv(t, nil)
		cb := e.request("billing", "+84912000030", time.Now().Add(-2*time.Minute), "")
		if len(e.acd.Line("billing")) != 1 {
			t.Fatal("not offered while open")
		}
		at(time.Date(2000, 1, 3, 17, 30, 0, 0, time.UTC))
		if len(e.acd.Line("billing")) != 0 || len(e.s.Line("billing")) != 0 {
			t.Fatal("still in line after closing")
		}
		if err := e.s.Dial(t.Context(), cb.ID, callback.Go{FreeAgents: 5}); !errors.Is(err, callback.ErrNotWaiting) {
			t.Fatalf("dial after closing: %v", err)
		}
		at(time.Date(2000, 1, 4, 7, 59, 0, 0, time.UTC)) // the night passes
		if len(e.acd.Line("billing")) != 0 {
			t.Fatal("offered before Tuesday's opening")
		}
		at(time.Date(2000, 1, 4, 8, 0, 0, 0, time.UTC))
		if got := ids(e.acd.Line("billing")); !slices.Equal(got, []int64{cb.ID}) {
			t.Fatalf("Tuesday's line = %v", got)
		}
		if got := strings.Join(statuses(e.events(), cb.ID), " "); got != "requested waiting scheduled waiting" {
			t.Fatalf("events = %s", got)
		}
	})
}

// TestAfterHoursRequest: asked at night, the callback is scheduled for the
// opening and the caller can be told so; it expires 24h after that.
func TestAfterHoursRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at(time.Date(2000, 1, 3, 22, 0, 0, 0, time.UTC)) // Monday 22:00
		e := newEnv(t, nil)
		opens := time.Date(2000, 1, 4, 8, 0, 0, 0, time.UTC)
		first, ok, err := e.s.FirstCall("sales", time.Time{})
		if err != nil || !ok || !first.Equal(opens) {
			t.Fatalf("FirstCall = %v, %v, %v; want %v", first, ok, err, opens)
		}
		cb, err := e.s.Request(t.Context(), callback.Request{Source: store.SourceIVR, Queue: "sales", Number: "+84912000040", Caller: "+84912000040"})
		if err != nil {
			t.Fatal(err)
		}
		if cb.Status != callback.StatusScheduled || !cb.NotBefore.Equal(opens) || !cb.ExpiresAt.Equal(opens.Add(24*time.Hour)) ||
			cb.DueAt == nil || !cb.DueAt.Equal(opens) {
			t.Fatalf("after-hours request = %+v", cb)
		}
		// A chosen time outside the hours is refused with the next opening.
		_, err = e.s.Request(t.Context(), callback.Request{Source: store.SourceAPI, Queue: "technical", Number: "+84912000041",
			At: time.Date(2000, 1, 4, 20, 0, 0, 0, time.UTC)})
		var oh *callback.OutsideHoursError
		if !errors.As(err, &oh) || !oh.Next.Equal(time.Date(2000, 1, 5, 8, 0, 0, 0, time.UTC)) {
			t.Fatalf("request at 20:00: %v", err)
		}
		// "Tomorrow at 10:00": waits for it, and is placed as if it joined then.
		ten := time.Date(2000, 1, 4, 10, 0, 0, 0, time.UTC)
		chosen, err := e.s.Request(t.Context(), callback.Request{Source: store.SourceAPI, Queue: "technical", Number: "+84912000042", At: ten})
		if err != nil || !chosen.NotBefore.Equal(ten) || !chosen.JoinedAt.Equal(ten) {
			t.Fatalf("chosen time: %+v, %v", chosen, err)
		}
		at(ten.Add(-time.Minute))
		if len(e.acd.Line("technical")) != 0 || len(e.acd.Line("sales")) != 1 {
			t.Fatalf("lines at 09:59: technical %v sales %v", e.acd.Line("technical"), e.acd.Line("sales"))
		}
		at(ten)
		if got := ids(e.acd.Line("technical")); !slices.Equal(got, []int64{chosen.ID}) {
			t.Fatalf("at 10:00: %v", got)
		}
		// Nobody dials them: both expire, each 24h after it was first due.
		at(opens.Add(24 * time.Hour))
		if row := e.get(cb.ID); row.State != store.CallbackExpired {
			t.Fatalf("sales callback at its expiry: %+v", row)
		}
		if row := e.get(chosen.ID); row.State != store.CallbackWaiting {
			t.Fatalf("technical callback before its expiry: %+v", row)
		}
		at(ten.Add(24 * time.Hour))
		if row := e.get(chosen.ID); row.State != store.CallbackExpired || row.Attempts != 0 {
			t.Fatalf("technical callback at its expiry: %+v", row)
		}
		if f, _ := e.s.QueueFigures("technical"); f.Expired != 1 || f.Waiting+f.Scheduled != 0 {
			t.Fatalf("figures: %+v", f)
		}
	})
}

// TestPacing: never more dialling than agents predicted free times the
// queue's ratio.
func TestPacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at(monday9)
		e := newEnv(t, func(c *callback.Config) {
			c.Queues = queues(func(q *config.QueueCallback) { q.PacingRatio = 1.5 })
		})
		for i := range 5 {
			e.request("technical", "+8491200010"+string(rune('0'+i)), time.Now().Add(-time.Duration(10-i)*time.Minute), "")
		}
		if _, _, err := e.acd.DialHead(t.Context(), e.s, "technical", 0); !errors.Is(err, callback.ErrPacing) {
			t.Fatalf("no agent free: %v", err)
		}
		for range 3 { // 2 free × 1.5 = 3
			if _, _, err := e.acd.DialHead(t.Context(), e.s, "technical", 2); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := e.acd.DialHead(t.Context(), e.s, "technical", 2); !errors.Is(err, callback.ErrPacing) {
			t.Fatalf("a fourth dial for two free agents: %v", err)
		}
		if f, _ := e.s.QueueFigures("technical"); f.Dialling != 3 || f.Waiting != 2 {
			t.Fatalf("figures = %+v", f)
		}
		e.call().End(callback.Result{Result: store.AttemptBusy})
		synctest.Wait()
		if _, _, err := e.acd.DialHead(t.Context(), e.s, "technical", 2); err != nil {
			t.Fatalf("after one call ended: %v", err)
		}
	})
}

// TestDuplicateAndCancel: one open callback per number and queue; the
// duplicate learns the existing one and its position; cancel and
// reschedule need the current version.
func TestDuplicateAndCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at(monday9)
		e := newEnv(t, nil)
		e.request("technical", "+84912000200", time.Now().Add(-9*time.Minute), "")
		cb := e.request("technical", "+84912000201", time.Now().Add(-5*time.Minute), "")
		_, err := e.s.Request(t.Context(), callback.Request{Source: store.SourceIVR, Queue: "technical", Number: "0912000201"})
		var dup *callback.DuplicateError
		if !errors.As(err, &dup) || dup.Existing.ID != cb.ID || dup.Position != 2 {
			t.Fatalf("duplicate: %v (%+v)", err, dup)
		}
		_, err = e.s.Cancel(t.Context(), cb.ID, cb.Version+7, "api token test")
		if !errors.Is(err, store.ErrVersion) {
			t.Fatalf("cancel with a stale version: %v", err)
		}
		moved, err := e.s.Reschedule(t.Context(), cb.ID, cb.Version, time.Date(2000, 1, 3, 15, 0, 0, 0, time.UTC), "api token test")
		if err != nil || moved.Status != callback.StatusScheduled || moved.Version != cb.Version+1 || !moved.JoinedAt.Equal(cb.JoinedAt) {
			t.Fatalf("reschedule: %+v, %v", moved, err)
		}
		synctest.Wait()
		if got := ids(e.acd.Line("technical")); len(got) != 1 {
			t.Fatalf("the rescheduled one is still in line: %v", got)
		}
		if _, err := e.s.Reschedule(t.Context(), cb.ID, moved.Version, time.Date(2000, 1, 3, 23, 0, 0, 0, time.UTC), ""); !errors.Is(err, callback.ErrOutsideHours) {
			t.Fatalf("reschedule to the night: %v", err)
		}
		gone, err := e.s.Cancel(t.Context(), cb.ID, moved.Version, "api token test")
		if err != nil || gone.State != store.CallbackCancelled {
			t.Fatalf("cancel: %+v, %v", gone, err)
		}
		if _, err := e.s.Cancel(t.Context(), cb.ID, 0, ""); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("cancel again: %v", err)
		}
		again, err := e.s.Request(t.Context(), callback.Request{Source: store.SourceIVR, Queue: "technical", Number: "0912000201"})
		if err != nil || again.ID == cb.ID {
			t.Fatalf("a new request after cancelling: %+v, %v", again, err)
		}
		synctest.Wait() // its offer reaches the ACD
		// In a call: not cancellable.
		for {
			head, ok, err := e.acd.DialHead(t.Context(), e.s, "technical", 5)
			if !ok || err != nil {
				t.Fatalf("dial: %v", err)
			}
			if head.ID == again.ID {
				break
			}
		}
		synctest.Wait()
		if _, err := e.s.Cancel(t.Context(), again.ID, 0, ""); !errors.Is(err, callback.ErrInProgress) {
			t.Fatalf("cancel in a call: %v", err)
		}
	})
}

// TestRequestChecks: queue, policy, bounds.
func TestRequestChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at(monday9)
		e := newEnv(t, func(c *callback.Config) {
			c.Limits = config.Callbacks{PerNumber: 3, PerSource: 5, Total: 9}
			c.Queues["closed"] = config.Queue{} // callbacks off
		})
		req := func(queue, number, source string) error {
			_, err := e.s.Request(t.Context(), callback.Request{Source: store.SourceAPI, Queue: queue, Number: number, SourceKey: source})
			return err
		}
		if err := req("nowhere", "+84912000300", ""); !errors.Is(err, callback.ErrUnknownQueue) {
			t.Fatalf("unknown queue: %v", err)
		}
		if err := req("closed", "+84912000300", ""); !errors.Is(err, callback.ErrDisabled) {
			t.Fatalf("disabled queue: %v", err)
		}
		if err := req("sales", "+19005550100", ""); !errors.Is(err, callback.ErrRefused) || !strings.Contains(err.Error(), "allow.numbers") {
			t.Fatalf("a number outside allow.numbers: %v", err)
		}
		if err := req("sales", "1900 5555", ""); !errors.Is(err, callback.ErrRefused) {
			t.Fatalf("a premium-rate number: %v", err)
		}
		// Three per number per hour (duplicates do not count).
		for _, q := range []string{"sales", "sales", "technical", "billing"} {
			if err := req(q, "+84912000301", ""); err != nil && !errors.Is(err, callback.ErrDuplicate) {
				t.Fatal(err)
			}
		}
		var rl *callback.RateLimitError
		if err := req("sales", "+84912000302", ""); err != nil {
			t.Fatal(err)
		}
		_, _ = e.s.Cancel(t.Context(), 1, 0, "") // frees the number's place in sales, not its rate
		if err := req("sales", "+84912000301", ""); !errors.As(err, &rl) || rl.Bound != "per_number" || rl.RetryAfter <= 0 {
			t.Fatalf("a fourth request for one number: %v", err)
		}
		// Asking again where it is already open is still told so, bound or not.
		if err := req("technical", "+84912000301", ""); !errors.Is(err, callback.ErrDuplicate) {
			t.Fatalf("asking again past the bound: %v", err)
		}
		// Five per source: a flood for many numbers from one source stops.
		var n int
		for i := range 10 {
			if err := req("billing", "+8491200040"+string(rune('0'+i)), "token web 203.0.113.7"); errors.As(err, &rl) {
				if rl.Bound != "per_source" {
					t.Fatalf("refused by %s", rl.Bound)
				}
				break
			}
			n++
		}
		if n != 5 {
			t.Fatalf("one source made %d requests, want 5", n)
		}
		// Nine in all: 3 for +84912000301, 1 for +84912000302, 5 from the source.
		if err := req("technical", "+84912000500", "token chat 198.51.100.1"); !errors.As(err, &rl) || rl.Bound != "total" {
			t.Fatalf("past the total: %v", err)
		}
		at(time.Now().Add(time.Hour))
		if err := req("technical", "+84912000500", ""); err != nil {
			t.Fatalf("an hour later: %v", err)
		}
	})
}

// TestOutageLosesNothing: the database goes away while calls end and
// callbacks expire; the outcomes are kept and written when it is back.
func TestOutageLosesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at(monday9)
		e := newEnv(t, func(c *callback.Config) {
			c.Queues = queues(func(q *config.QueueCallback) { q.Expiry = time.Hour })
		})
		a := e.request("technical", "+84912000600", time.Now().Add(-2*time.Minute), "")
		b := e.request("sales", "+84912000601", time.Now().Add(-2*time.Minute), "")
		if _, _, err := e.acd.DialHead(t.Context(), e.s, "technical", 1); err != nil {
			t.Fatal(err)
		}
		c := e.call()
		e.st.down.Store(true)
		c.End(callback.Result{Result: store.AttemptCompleted, Agent: "lan"})
		if _, _, err := e.acd.DialHead(t.Context(), e.s, "sales", 1); err == nil {
			t.Fatal("a claim went through while the database is down")
		}
		e.noCall()
		at(time.Now().Add(61 * time.Minute)) // b expires meanwhile
		if row := e.get(a.ID); row.State != store.CallbackDialling {
			t.Fatalf("written while down? %+v", row)
		}
		e.st.down.Store(false)
		at(time.Now().Add(10 * time.Second))
		if row := e.get(a.ID); row.State != store.CallbackCompleted {
			t.Fatalf("the outcome was not written once the database was back: %+v", row)
		}
		if row := e.get(b.ID); row.State != store.CallbackExpired || row.Attempts != 0 {
			t.Fatalf("b after the outage: %+v", row)
		}
	})
}

// TestRestartInterruptedOnce: a crash during a call; the next start marks
// the attempt interrupted and puts the callback back at its place, first
// in line, with its attempt given back; the others keep their places.
func TestRestartInterruptedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at(monday9)
		e := newEnv(t, nil)
		now := time.Now()
		a := e.request("technical", "+84912000700", now.Add(-9*time.Minute), "")
		b := e.request("technical", "+84912000701", now.Add(-7*time.Minute), "")
		c := e.request("technical", "+84912000702", now.Add(-5*time.Minute), "")
		if _, _, err := e.acd.DialHead(t.Context(), e.s, "technical", 1); err != nil {
			t.Fatal(err)
		}
		first := e.call()
		e.crash()
		at(time.Now().Add(time.Minute))
		e.start()
		if got := ids(e.acd.Line("technical")); !slices.Equal(got, []int64{a.ID, b.ID, c.ID}) {
			t.Fatalf("after the restart the line is %v", got)
		}
		row := e.get(a.ID)
		if row.Interrupted != 1 || row.MaxAttempts != 4 || row.Calls[0].Result != store.AttemptInterrupted {
			t.Fatalf("interrupted callback: %+v", row)
		}
		if _, _, err := e.acd.DialHead(t.Context(), e.s, "technical", 1); err != nil {
			t.Fatal(err)
		}
		again := e.call()
		if again.Req.CallbackID != a.ID || again.Req.Attempt != 2 || again.Req.CallID == first.Req.CallID {
			t.Fatalf("retry = %+v (first %+v)", again.Req, first.Req)
		}
		e.crash() // again: the second cut ends it
		e.start()
		if row := e.get(a.ID); row.State != store.CallbackFailed || row.Interrupted != 2 {
			t.Fatalf("after a second crash: %+v", row)
		}
		if got := ids(e.acd.Line("technical")); !slices.Equal(got, []int64{b.ID, c.ID}) {
			t.Fatalf("line after the second restart: %v", got)
		}
	})
}

// TestShutdownWaitsForCalls: Shutdown lets the call in flight end and
// records it; a call still up when its context ends is interrupted.
func TestShutdownWaitsForCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at(monday9)
		e := newEnv(t, nil)
		cb := e.request("technical", "+84912000800", time.Now().Add(-time.Minute), "")
		if _, _, err := e.acd.DialHead(t.Context(), e.s, "technical", 1); err != nil {
			t.Fatal(err)
		}
		c := e.call()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- e.s.Shutdown(ctx) }()
		synctest.Wait()
		if _, err := e.s.Request(t.Context(), callback.Request{Source: store.SourceAPI, Queue: "sales", Number: "+84912000801"}); !errors.Is(err, callback.ErrClosed) {
			t.Fatalf("request while shutting down: %v", err)
		}
		select {
		case <-done:
			t.Fatal("Shutdown returned with a call in flight")
		default:
		}
		time.Sleep(31 * time.Second) // the drain time runs out: the call is hung up
		synctest.Wait()
		<-c.Done()
		if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown = %v", err)
		}
		row := e.get(cb.ID)
		if row.State != store.CallbackWaiting || row.Calls[0].Result != store.AttemptInterrupted || row.Interrupted != 1 || row.MaxAttempts != 4 {
			t.Fatalf("after shutdown: %+v", row)
		}
	})
}
