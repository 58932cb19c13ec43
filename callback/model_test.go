package callback_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hotline-dev/hotline/calendar"
	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/callback/callbacktest"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/store"
)

// TestModel drives the scheduler with random sequences of requests (virtual
// hold, IVR, API with a chosen time), dials, call outcomes, cancels,
// reschedules, clock jumps, database outages and restarts (crashes and
// clean shutdowns), and checks after every step:
//
//   - never two open callbacks for one (number, queue);
//   - nothing lost: every accepted request is in the database, and every
//     waiting one is in the scheduler;
//   - nothing dialled twice: one call per (callback, attempt), and never
//     outside the calendar;
//   - the line is in place order (tier rank, original join time) and holds
//     exactly the callbacks that are due, and the ACD was told the same;
//   - a restart puts every pending callback back at its place, and each
//     call cut short by it is marked interrupted and given one more try.
//
// At the end every request has ended. HOTLINE_MODEL_SEEDS=n runs n seeds.
func TestModel(t *testing.T) {
	seeds := 4
	if n, err := strconv.Atoi(os.Getenv("HOTLINE_MODEL_SEEDS")); err == nil && n > 0 {
		seeds = n
	}
	seen := map[string]int{}
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				for k, n := range runModel(t, seed) {
					seen[k] += n
				}
			})
		})
	}
	// The sequences must have reached what the checks are about, or they
	// prove nothing.
	for _, k := range []string{"completed", "failed", "expired", "cancelled", "cut short", "retried after a cut", "duplicate", "outside hours"} {
		if seen[k] == 0 {
			t.Errorf("no sequence had a %q", k)
		}
	}
	t.Logf("what the sequences did: %v", seen)
}

type model struct {
	t       *testing.T
	e       *env
	rng     *rand.Rand
	cal     *calendar.Calendar
	ids     map[int64]bool       // every callback the scheduler accepted
	calls   []*callbacktest.Call // calls the current scheduler is placing
	dialled map[string]int       // "id/attempt" → calls placed
	callIDs map[string]bool      // every INVITE Call-ID
	cut     map[int64]int        // callbacks whose call a crash cut short → the attempt it cut
	stale   []*callbacktest.Call // calls of a scheduler that is gone
	cancels map[int64]bool       // cancelled through the scheduler
	numbers []string
	queues  []string
	upAt    time.Time // when the database last came back
	seen    map[string]int
}

func runModel(t *testing.T, seed uint64) map[string]int {
	at(monday9)
	e := newEnv(t, func(c *callback.Config) {
		c.Queues = queues(func(q *config.QueueCallback) {
			q.RetrySpacing = []time.Duration{3 * time.Minute, 20 * time.Minute}
			q.Expiry = 30 * time.Hour
			q.MaxAttempts = 3
		})
	})
	cal, err := calendar.Parse(office)
	if err != nil {
		t.Fatal(err)
	}
	m := &model{t: t, e: e, rng: rand.New(rand.NewPCG(seed, 77)), cal: cal, ids: map[int64]bool{}, dialled: map[string]int{},
		callIDs: map[string]bool{}, cut: map[int64]int{}, cancels: map[int64]bool{},
		seen:    map[string]int{},
		numbers: []string{"+84912100001", "+84912100002", "+84912100003", "+84912100004", "+84912100005", "+84912100006"},
		queues:  []string{"technical", "sales", "billing"}}
	for step := range 300 {
		m.step(step)
		synctest.Wait()
		m.collect()
		m.check(fmt.Sprintf("step %d", step))
	}
	m.drain()
	return m.seen
}

func (m *model) pick(n int) int { return m.rng.IntN(n) }

func (m *model) step(step int) {
	e, ctx := m.e, context.Background()
	switch r := m.pick(100); {
	case r < 30: // a request
		q, n := m.queues[m.pick(3)], m.numbers[m.pick(len(m.numbers))]
		req := callback.Request{Queue: q, Number: n, Caller: n, Category: q}
		switch m.pick(3) {
		case 0:
			req.Source, req.JoinedAt = store.SourceVirtualHold, time.Now().Add(-time.Duration(m.pick(1200))*time.Second)
			req.Tier = []store.Tier{"", store.TierVIP, store.TierStandard}[m.pick(3)]
			req.CallID, req.FromTag = fmt.Sprintf("in-%d", step), "ft"
		case 1:
			req.Source = store.SourceIVR
		default:
			req.Source, req.At = store.SourceAPI, time.Now().Add(time.Duration(m.pick(48*60))*time.Minute).Truncate(time.Minute)
		}
		cb, err := e.s.Request(ctx, req)
		var dup *callback.DuplicateError
		var oh *callback.OutsideHoursError
		switch {
		case err == nil:
			m.ids[cb.ID] = true
		case errors.As(err, &dup):
			m.seen["duplicate"]++
			if !m.ids[dup.Existing.ID] {
				m.t.Fatalf("duplicate of a callback never accepted: %+v", dup.Existing)
			}
		case errors.As(err, &oh):
			m.seen["outside hours"]++
			if m.cal.Open(req.At) {
				m.t.Fatalf("refused %v as outside hours", req.At)
			}
		case errors.Is(err, store.ErrUnavailable), errors.Is(err, callback.ErrNotReady):
		default:
			m.t.Fatalf("request: %v", err)
		}
	case r < 55: // the ACD dials a head
		q := m.queues[m.pick(3)]
		line := e.s.Line(q)
		head, ok, err := e.acd.DialHead(ctx, e.s, q, m.pick(4))
		if !ok {
			return
		}
		if len(line) == 0 || line[0].ID != head.ID {
			m.t.Fatalf("the ACD's head %d is not the scheduler's (%v)", head.ID, ids(line))
		}
		if err != nil && !errors.Is(err, callback.ErrPacing) && !errors.Is(err, store.ErrUnavailable) {
			m.t.Fatalf("dial %d: %v", head.ID, err)
		}
	case r < 75: // a call ends
		if len(m.calls) == 0 {
			return
		}
		i := m.pick(len(m.calls))
		c := m.calls[i]
		m.calls = slices.Delete(m.calls, i, i+1)
		results := store.AttemptResults[:len(store.AttemptResults)-1] // not interrupted: only Hotline says that
		res := results[m.pick(len(results))]
		if m.pick(4) == 0 {
			res = store.AttemptCompleted
		}
		if res == store.AttemptCompleted || res == store.AttemptAbandoned || m.pick(3) == 0 {
			c.Confirm()
		}
		c.End(callback.Result{Result: res, SIPStatus: 200, Agent: "agent"})
	case r < 80: // cancel
		if id, ok := m.anyID(); ok {
			cur, err := e.s.Get(ctx, id)
			if err != nil {
				return
			}
			v := cur.Version
			if m.pick(4) == 0 {
				v++ // stale
			}
			if _, err := e.s.Cancel(ctx, id, v, "model"); err == nil {
				m.cancels[id] = true
			}
		}
	case r < 84: // reschedule
		if id, ok := m.anyID(); ok {
			to := time.Now().Add(time.Duration(m.pick(600)) * time.Minute).Truncate(time.Minute)
			_, _ = e.s.Reschedule(ctx, id, 0, to, "model")
		}
	case r < 93: // time passes
		d := []time.Duration{time.Second, time.Minute, 4 * time.Minute, 25 * time.Minute, 3 * time.Hour, 14 * time.Hour}[m.pick(6)]
		at(time.Now().Add(d))
	case r < 96: // the database comes and goes
		m.setDown(!e.st.down.Load())
	default: // a restart
		m.restart(m.pick(2) == 0)
	}
}

// setDown takes the database away or brings it back.
func (m *model) setDown(down bool) {
	if m.e.st.down.Load() && !down {
		m.upAt = time.Now()
	}
	m.e.st.down.Store(down)
}

func (m *model) anyID() (int64, bool) {
	if len(m.ids) == 0 {
		return 0, false
	}
	keys := make([]int64, 0, len(m.ids))
	for id := range m.ids {
		keys = append(keys, id)
	}
	slices.Sort(keys)
	return keys[m.pick(len(keys))], true
}

// collect takes the calls placed since the last step.
func (m *model) collect() {
	for {
		select {
		case c := <-m.e.dialer.Calls:
			k := fmt.Sprintf("%d/%d", c.Req.CallbackID, c.Req.Attempt)
			m.dialled[k]++
			if m.dialled[k] > 1 {
				m.t.Fatalf("callback %d attempt %d dialled twice", c.Req.CallbackID, c.Req.Attempt)
			}
			if m.callIDs[c.Req.CallID] {
				m.t.Fatalf("Call-ID %s used twice", c.Req.CallID)
			}
			m.callIDs[c.Req.CallID] = true
			if !m.cal.Open(c.At) {
				m.t.Fatalf("callback %d dialled at %v, outside the calendar", c.Req.CallbackID, c.At)
			}
			m.calls = append(m.calls, c)
		default:
			return
		}
	}
}

// restart stops the scheduler (a crash, or a clean shutdown with a short
// drain) and starts a new one on the same database.
func (m *model) restart(crash bool) {
	e := m.e
	m.setDown(false)
	// What a crash cuts short: every call placed and not ended.
	inflight := map[int64]int{}
	prior := map[int64]*store.Callback{}
	for _, c := range m.calls {
		inflight[c.Req.CallbackID] = c.Req.Attempt
		prior[c.Req.CallbackID] = e.get(c.Req.CallbackID)
	}
	before := map[string][]int64{}
	for _, q := range m.queues {
		before[q] = ids(e.s.Line(q))
	}
	if crash {
		e.crash()
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = e.s.Shutdown(ctx)
		cancel()
		e.stop()
	}
	m.stale = append(m.stale, m.calls...)
	m.calls = nil
	e.start()
	for id, attempt := range inflight {
		row := e.get(id)
		a := row.Calls[attempt-1]
		if a.Result != store.AttemptInterrupted || a.EndedAt == nil {
			m.t.Fatalf("callback %d attempt %d cut short by a restart: %+v", id, attempt, a)
		}
		switch row.State {
		case store.CallbackWaiting:
			m.seen["cut short"]++
			// Retried once: the cut attempt is given back, and counted.
			if p := prior[id]; row.MaxAttempts != p.MaxAttempts+1 || row.Interrupted != p.Interrupted+1 || row.Attempts != p.Attempts ||
				!row.JoinedAt.Equal(p.JoinedAt) {
				m.t.Fatalf("interrupted callback %d: %+v, before the restart %+v", id, row, p)
			}
			m.cut[id] = attempt
		case store.CallbackFailed:
			if row.Interrupted < 2 {
				m.t.Fatalf("callback %d failed after one interruption: %+v", id, row)
			}
		case store.CallbackExpired:
		default:
			m.t.Fatalf("interrupted callback %d is %s", id, row.State)
		}
	}
	// Those that were in line are in line again, in the same order
	// (unless time moved them out: nothing moved here).
	for _, q := range m.queues {
		var kept []int64
		after := ids(e.s.Line(q))
		for _, id := range before[q] {
			if slices.Contains(after, id) {
				kept = append(kept, id)
			}
		}
		if len(kept) != len(before[q]) {
			m.t.Fatalf("queue %s lost callbacks from its line in a restart: before %v after %v", q, before[q], after)
		}
	}
}

// check verifies the invariants against the database.
func (m *model) check(when string) {
	e := m.e
	if e.st.down.Load() {
		return // the database is "down": check when it is back
	}
	open, err := e.db.(store.Callbacks).OpenCallbacks(context.Background())
	if err != nil {
		m.t.Fatal(err)
	}
	seen := map[string]int64{}
	byID := map[int64]store.Callback{}
	for _, cb := range open {
		k := cb.Number + "/" + cb.Queue
		if other, dup := seen[k]; dup {
			m.t.Fatalf("%s: two open callbacks for %s: %d and %d", when, k, other, cb.ID)
		}
		seen[k] = cb.ID
		byID[cb.ID] = cb
		if !m.ids[cb.ID] {
			m.t.Fatalf("%s: callback %d in the database was never accepted", when, cb.ID)
		}
	}
	// One read of everything: the database's rows with the scheduler's
	// status for each.
	all, next, err := e.s.List(context.Background(), store.CallbackFilter{}, store.Page{Limit: 500})
	if err != nil || next != "" {
		m.t.Fatalf("%s: list: %v (more than a page: %v)", when, err, next != "")
	}
	status := map[int64]callback.Status{}
	for _, cb := range all {
		status[cb.ID] = cb.Status
	}
	for id := range m.ids {
		if _, ok := status[id]; !ok {
			m.t.Fatalf("%s: accepted callback %d lost", when, id)
		}
	}
	now := time.Now()
	for _, q := range m.queues {
		line := e.s.Line(q)
		if got, acd := ids(line), ids(e.acd.Line(q)); !slices.Equal(got, acd) {
			m.t.Fatalf("%s: queue %s line %v, the ACD was told %v", when, q, got, acd)
		}
		for i, w := range line {
			cb, ok := byID[w.ID]
			if !ok || cb.State != store.CallbackWaiting {
				m.t.Fatalf("%s: callback %d in line is %+v in the database", when, w.ID, cb)
			}
			if cb.NotBefore.After(now) || !now.Before(cb.ExpiresAt) || !m.cal.Open(now) {
				m.t.Fatalf("%s: callback %d in line but not due (not before %v, expires %v, now %v)", when, w.ID, cb.NotBefore, cb.ExpiresAt, now)
			}
			if i > 0 {
				p := line[i-1]
				if p.Place.Rank.After(w.Place.Rank) || p.Place.Rank.Equal(w.Place.Rank) && p.Place.JoinedAt.After(w.Place.JoinedAt) {
					m.t.Fatalf("%s: queue %s out of order: %+v before %+v", when, q, p, w)
				}
			}
		}
	}
	// Every waiting one that is due and open is in line (nothing forgotten
	// in memory), once the writes that failed while the database was away
	// have been retried (within the longest backoff).
	if now.Sub(m.upAt) <= 6*time.Second {
		return
	}
	for _, cb := range open {
		if cb.State != store.CallbackWaiting || cb.NotBefore.After(now) || !now.Before(cb.ExpiresAt) || !m.cal.Open(now) {
			continue
		}
		if got := status[cb.ID]; e.s.DebugEntry(cb.ID) == "no entry" || got != callback.StatusWaiting && got != callback.Status(store.CallbackDialling) {
			m.t.Fatalf("%s: callback %d is due and waiting in the database but %s in the scheduler (row %+v; events %v; %s)", when, cb.ID, got,
				cb, statuses(e.events(), cb.ID), e.s.DebugEntry(cb.ID))
		}
	}
}

// drain ends the story: no more chaos, every call ends unanswered, the
// ACD dials whatever is due, time passes until every callback has ended.
func (m *model) drain() {
	e := m.e
	m.setDown(false)
	for range 400 {
		synctest.Wait()
		m.collect()
		for _, c := range m.calls {
			c.End(callback.Result{Result: store.AttemptNoAnswer, SIPStatus: 480})
		}
		m.calls = nil
		synctest.Wait()
		for _, q := range m.queues {
			for {
				_, ok, err := e.acd.DialHead(context.Background(), e.s, q, 10)
				if !ok || err != nil {
					break
				}
			}
		}
		synctest.Wait()
		m.collect()
		m.check("drain")
		open, err := e.db.(store.Callbacks).OpenCallbacks(context.Background())
		if err != nil {
			m.t.Fatal(err)
		}
		if len(open) == 0 && len(m.calls) == 0 {
			break
		}
		at(time.Now().Add(10 * time.Minute))
	}
	open, _ := e.db.(store.Callbacks).OpenCallbacks(context.Background())
	if len(open) != 0 {
		m.t.Fatalf("%d callbacks never ended: %+v", len(open), open)
	}
	// Every request ended for a reason its history shows, and each call
	// cut short by a restart was dialled once more (or the callback ended
	// without needing it).
	evs := e.events()
	for id := range m.ids {
		row := e.get(id)
		last := row.Calls
		switch row.State {
		case store.CallbackCompleted:
			if len(last) == 0 || last[len(last)-1].Result != store.AttemptCompleted {
				m.t.Fatalf("callback %d completed without a completed call: %+v", id, row)
			}
		case store.CallbackCancelled:
			if !m.cancels[id] {
				m.t.Fatalf("callback %d cancelled, but nobody cancelled it", id)
			}
		case store.CallbackFailed:
			if row.Attempts < row.MaxAttempts && last[len(last)-1].Result != store.AttemptRefused && row.Interrupted < 2 {
				m.t.Fatalf("callback %d failed with attempts left: %+v", id, row)
			}
		case store.CallbackExpired:
		default:
			m.t.Fatalf("callback %d ended %s", id, row.State)
		}
		for i, a := range last {
			if a.Attempt != i+1 || a.Result == "" || a.EndedAt == nil {
				m.t.Fatalf("callback %d attempt %d: %+v", id, i+1, a)
			}
			if m.dialled[fmt.Sprintf("%d/%d", id, a.Attempt)] != 1 {
				m.t.Fatalf("callback %d attempt %d recorded but dialled %d times", id, a.Attempt, m.dialled[fmt.Sprintf("%d/%d", id, a.Attempt)])
			}
		}
		if cutAt, ok := m.cut[id]; ok && row.State != store.CallbackCancelled && row.State != store.CallbackExpired && len(last) <= cutAt {
			m.t.Fatalf("callback %d: its call %d was cut short and never retried: %+v", id, cutAt, row)
		} else if ok && len(last) > cutAt {
			m.seen["retried after a cut"]++
		}
		m.seen[string(row.State)]++
		st := statuses(evs, id)
		if len(st) == 0 || st[len(st)-1] != string(row.State) {
			m.t.Fatalf("callback %d ended %s, its events say %v", id, row.State, st)
		}
	}
}
