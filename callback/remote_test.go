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
