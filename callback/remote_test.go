package callback_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/store"
)

// remoteOf is a follower's request side on e's database (Config.Remote):
// what it stores, the running scheduler (e.s, the leader's) is told to
// Load, as the cluster's callback command does.
func remoteOf(t *testing.T, e *env) (*callback.Scheduler, *[]int64) {
	t.Helper()
	told := &[]int64{}
	cfg := e.cfg
	cfg.Store, cfg.ACD, cfg.Dialer = e.db.(store.Callbacks), nil, nil
	cfg.Remote = func(_ context.Context, id int64) error {
		*told = append(*told, id)
		e.s.Load(id)
		return nil
	}
	r, err := callback.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	select {
	case <-r.Ready():
	default:
		t.Fatal("a remote scheduler is not ready at once")
	}
	return r, told
}

// TestRemoteRequestsReachTheRunningScheduler: a request taken on a node
// whose scheduler does not run is stored, and the running scheduler loads
// it at its place (ahead of a later caller) and dials it; asking again is
// the duplicate (and tells the running scheduler again, harmlessly); a
// remote cancel ends a waiting callback there (out of the ACD's line,
// one cancelled event) and a remote reschedule moves one out of the line
// until its time. Nothing is dialled twice.
func TestRemoteRequestsReachTheRunningScheduler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at(monday9)
		e := newEnv(t, nil)
		r, told := remoteOf(t, e)
		now := time.Now()
		later := e.request("technical", "0912000002", now.Add(-time.Minute), store.TierStandard)
		ask := callback.Request{Source: store.SourceVirtualHold, Queue: "technical", Number: "0912000001", Caller: "0912000001",
			CallID: "remote-1", FromTag: "ft", JoinedAt: now.Add(-5 * time.Minute)}
		first, err := r.Request(t.Context(), ask)
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := ids(e.acd.Line("technical")); !slices.Equal(got, []int64{first.ID, later.ID}) {
			t.Fatalf("ACD line %v, want the remote request (joined earlier) first: %v", got, []int64{first.ID, later.ID})
		}
		_, err = r.Request(t.Context(), ask)
		var dup *callback.DuplicateError
		if !errors.As(err, &dup) || dup.Existing.ID != first.ID {
			t.Fatalf("asked again: %v, want the duplicate of %d", err, first.ID)
		}
		synctest.Wait()
		if !slices.Equal(*told, []int64{first.ID, first.ID}) {
			t.Fatalf("the running scheduler was told %v", *told)
		}
		if got := ids(e.acd.Line("technical")); !slices.Equal(got, []int64{first.ID, later.ID}) {
			t.Fatalf("ACD line after the duplicate %v", got)
		}
		head, _, err := e.acd.DialHead(t.Context(), e.s, "technical", 1)
		if err != nil || head.ID != first.ID {
			t.Fatalf("dial head = %+v, %v", head, err)
		}
		if c := e.call(); c.Req.CallbackID != first.ID {
			t.Fatalf("dialled %d, want %d", c.Req.CallbackID, first.ID)
		}

		// A remote cancel of the waiting one: stored, then dropped by the
		// running scheduler, which publishes the end.
		e.events()
		if _, err := r.Cancel(t.Context(), later.ID, 0, "agent"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := ids(e.acd.Line("technical")); len(got) != 0 {
			t.Fatalf("ACD line after the cancel %v", got)
		}
		if got := statuses(e.events(), later.ID); !slices.Equal(got, []string{"cancelled"}) {
			t.Fatalf("events of the cancelled one %v, want one cancelled", got)
		}
		if s := e.get(later.ID).State; s != store.CallbackCancelled {
			t.Fatalf("stored state %s", s)
		}
		// A remote change of the one being dialled is refused (its row
		// says so), and the call goes on.
		if _, err := r.Cancel(t.Context(), first.ID, 0, "agent"); !errors.Is(err, callback.ErrInProgress) {
			t.Fatalf("cancel while dialling: %v, want ErrInProgress", err)
		}

		// A remote reschedule: out of the line until its time, then back.
		third := e.request("technical", "0912000003", now, store.TierStandard)
		at2 := monday9.Add(2 * time.Hour)
		moved, err := r.Reschedule(t.Context(), third.ID, 0, at2, "agent")
		if err != nil || !moved.NotBefore.Equal(at2) {
			t.Fatalf("reschedule = %+v, %v", moved, err)
		}
		synctest.Wait()
		if got := ids(e.acd.Line("technical")); len(got) != 0 {
			t.Fatalf("ACD line after the reschedule %v", got)
		}
		at(at2)
		if got := ids(e.acd.Line("technical")); !slices.Equal(got, []int64{third.ID}) {
			t.Fatalf("ACD line at its new time %v", got)
		}
		e.noCall()
	})
}

// TestRescanTakesAnUntoldCallback: a callback stored by another node whose
// Load never came (the command was lost) is taken by the running
// scheduler's next rescan, once; one it ended meanwhile is not brought back.
func TestRescanTakesAnUntoldCallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at(monday9)
		e := newEnv(t, func(c *callback.Config) { c.Rescan = time.Minute })
		cfg := e.cfg
		cfg.Store, cfg.ACD, cfg.Dialer, cfg.Rescan = e.db.(store.Callbacks), nil, nil, 0
		cfg.Remote = func(context.Context, int64) error { return errors.New("test: the command was lost") }
		r, err := callback.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		lost, err := r.Request(t.Context(), callback.Request{Source: store.SourceAPI, Queue: "technical", Number: "0912000001"})
		if !errors.Is(err, store.ErrUnavailable) || lost.ID == 0 {
			t.Fatalf("request with the command lost: %+v, %v; want it stored and ErrUnavailable", lost, err)
		}
		synctest.Wait()
		if got := e.acd.Line("technical"); len(got) != 0 {
			t.Fatalf("offered before the rescan: %v", ids(got))
		}
		at(monday9.Add(time.Minute + time.Second))
		if got := ids(e.acd.Line("technical")); !slices.Equal(got, []int64{lost.ID}) {
			t.Fatalf("ACD line after the rescan %v, want [%d]", got, lost.ID)
		}
		head, _, err := e.acd.DialHead(t.Context(), e.s, "technical", 1)
		if err != nil || head.ID != lost.ID {
			t.Fatalf("dial head = %+v, %v", head, err)
		}
		e.call().End(callback.Result{Result: store.AttemptCompleted, Agent: "an"})
		synctest.Wait()
		at(monday9.Add(3*time.Minute + time.Second)) // two more rescans
		if got := e.acd.Line("technical"); len(got) != 0 {
			t.Fatalf("the completed callback is back in line: %v", ids(got))
		}
		e.noCall()
		done := 0
		for _, st := range statuses(e.events(), lost.ID) {
			if st == "completed" {
				done++
			}
		}
		if done != 1 {
			t.Fatalf("completed %d times", done)
		}
		if s := e.get(lost.ID).State; s != store.CallbackCompleted {
			t.Fatalf("stored state %s", s)
		}
	})
}

// TestRescanDoesNotReviveAnEnd: a callback cancelled on this scheduler
// while a rescan reads the store (the rows read still show it waiting)
// stays cancelled: not offered again, one cancelled event.
func TestRescanDoesNotReviveAnEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at(monday9)
		e := newEnv(t, func(c *callback.Config) { c.Rescan = time.Minute })
		cb := e.request("technical", "0912000001", time.Now().Add(-time.Minute), store.TierStandard)
		e.events()
		raced := make(chan struct{})
		s := e.s
		e.st.onOpen(func() {
			defer close(raced)
			if _, err := s.Cancel(context.Background(), cb.ID, 0, "agent"); err != nil {
				t.Error(err)
			}
		})
		at(monday9.Add(time.Minute + time.Second))
		select {
		case <-raced:
		default:
			t.Fatal("no rescan within its interval")
		}
		if got := e.acd.Line("technical"); len(got) != 0 {
			t.Fatalf("the cancelled callback is back in line: %v", ids(got))
		}
		if got := statuses(e.events(), cb.ID); !slices.Equal(got, []string{"cancelled"}) {
			t.Fatalf("events %v, want one cancelled", got)
		}
	})
}

// TestRemoteViewsShowTheRunningSchedulersPositions: a Remote scheduler's
// views (Get, List, a duplicate's answer) give the position the running
// scheduler's line has (Config.Position, a cluster's view), and the
// running scheduler's List gives its ACD's positions too.
func TestRemoteViewsShowTheRunningSchedulersPositions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at(monday9)
		e := newEnv(t, nil)
		cfg := e.cfg
		cfg.Store, cfg.ACD, cfg.Dialer = e.db.(store.Callbacks), nil, nil
		cfg.Remote = func(_ context.Context, id int64) error { e.s.Load(id); return nil }
		cfg.Position = func(queue string, id int64) (int, bool) {
			v, err := e.s.Get(context.Background(), id)
			return v.Position, err == nil && v.Position > 0 && v.Queue == queue
		}
		r, err := callback.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		now := time.Now()
		later := e.request("technical", "0912000002", now.Add(-time.Minute), store.TierStandard)
		ask := callback.Request{Source: store.SourceVirtualHold, Queue: "technical", Number: "0912000001", Caller: "0912000001",
			CallID: "remote-pos", FromTag: "ft", JoinedAt: now.Add(-5 * time.Minute)}
		first, err := r.Request(t.Context(), ask)
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		for _, s := range []*callback.Scheduler{r, e.s} {
			if got, err := s.Get(t.Context(), first.ID); err != nil || got.Position != 1 {
				t.Fatalf("Get of the remote request: %+v, %v; want position 1", got, err)
			}
			list, _, err := s.List(t.Context(), store.CallbackFilter{Queue: "technical"}, store.Page{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			pos := map[int64]int{}
			for _, cb := range list {
				pos[cb.ID] = cb.Position
			}
			if pos[first.ID] != 1 || pos[later.ID] != 2 {
				t.Fatalf("List positions %v; want %d at 1, %d at 2", pos, first.ID, later.ID)
			}
		}
		_, err = r.Request(t.Context(), ask)
		var dup *callback.DuplicateError
		if !errors.As(err, &dup) || dup.Position != 1 {
			t.Fatalf("asked again: %v (%+v), want the duplicate at position 1", err, dup)
		}
	})
}
