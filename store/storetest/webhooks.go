package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
)

func webhooksOf(t *testing.T, s store.Store) store.Webhooks {
	t.Helper()
	ws, ok := s.(store.Webhooks)
	if !ok {
		t.Fatalf("%T does not implement store.Webhooks", s)
	}
	return ws
}

func testWebhookSubscriptions(t *testing.T, s store.Store) {
	ws := webhooksOf(t, s)
	w := &store.WebhookSubscription{ID: "wh_1", URL: "https://desk.example/hook", Secret: "s3cret-s3cret-s3cret-s3cret-s3cret", Events: []string{"call.ended"}}
	must(t, ws.CreateWebhook(ctx(t), w))
	if err := ws.CreateWebhook(ctx(t), w); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second create: %v, want ErrConflict", err)
	}
	if err := ws.CreateWebhook(ctx(t), &store.WebhookSubscription{ID: "wh_2", URL: "https://x"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("create without a secret: %v, want ErrInvalid", err)
	}
	got, err := ws.GetWebhook(ctx(t), "wh_1")
	must(t, err)
	if got.URL != w.URL || got.Secret != w.Secret || len(got.Events) != 1 || got.Events[0] != "call.ended" || got.CreatedAt.IsZero() {
		t.Errorf("got %+v", got)
	}
	// An update without a secret keeps it.
	must(t, ws.UpdateWebhook(ctx(t), &store.WebhookSubscription{ID: "wh_1", URL: "https://desk.example/v2", Events: nil}))
	got, err = ws.GetWebhook(ctx(t), "wh_1")
	must(t, err)
	if got.URL != "https://desk.example/v2" || got.Secret != w.Secret || len(got.Events) != 0 {
		t.Errorf("after update: %+v", got)
	}
	if err := ws.UpdateWebhook(ctx(t), &store.WebhookSubscription{ID: "nope", URL: "https://x"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update of no such id: %v", err)
	}
	list, err := ws.ListWebhooks(ctx(t))
	must(t, err)
	if len(list) != 1 {
		t.Errorf("list: %d, want 1", len(list))
	}
	must(t, ws.EnqueueWebhooks(ctx(t), []store.WebhookDelivery{{Subscription: "wh_1", EventID: "e1", EventType: "call.ended", Body: []byte(`{}`), CreatedAt: c0}}))
	must(t, ws.DeleteWebhook(ctx(t), "wh_1"))
	if _, err := ws.GetWebhook(ctx(t), "wh_1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get after delete: %v", err)
	}
	if err := ws.DeleteWebhook(ctx(t), "wh_1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	ds, _, err := ws.ListWebhookDeliveries(ctx(t), store.WebhookFilter{Subscription: "wh_1"}, store.Page{})
	must(t, err)
	if len(ds) != 0 {
		t.Errorf("pending deliveries of a deleted subscription stay: %+v", ds)
	}
}

func body(i int) []byte { return fmt.Appendf(nil, `{"n":%d}`, i) }

// testWebhookOutbox: enqueue is idempotent per (subscription, event); a
// claim takes only each subscription's head, only when due and unclaimed;
// a finish by another claimant is refused; retries, the dead letter and
// replay.
func testWebhookOutbox(t *testing.T, s store.Store) {
	ws := webhooksOf(t, s)
	var ds []store.WebhookDelivery
	for i := range 3 {
		for _, sub := range []string{"a", "b"} {
			ds = append(ds, store.WebhookDelivery{Subscription: sub, EventID: fmt.Sprintf("ev%d", i), EventType: "call.started", Body: body(i), CreatedAt: c0})
		}
	}
	must(t, ws.EnqueueWebhooks(ctx(t), ds))
	must(t, ws.EnqueueWebhooks(ctx(t), ds[:2])) // a retried batch: skipped
	all, _, err := ws.ListWebhookDeliveries(ctx(t), store.WebhookFilter{}, store.Page{Limit: 100})
	must(t, err)
	if len(all) != 6 {
		t.Fatalf("%d deliveries, want 6", len(all))
	}
	if err := ws.EnqueueWebhooks(ctx(t), []store.WebhookDelivery{{Subscription: "a", EventID: "x", EventType: "t", Body: []byte("not json")}}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("enqueue of a body that is not JSON: %v", err)
	}
	at, ok, err := ws.NextWebhookDue(ctx(t))
	must(t, err)
	if !ok || !at.Equal(c0) {
		t.Errorf("next due %v %v, want %v", at, ok, c0)
	}
	if got, err := ws.ClaimWebhooks(ctx(t), store.WebhookClaim{By: "p1", At: c0.Add(-time.Second), Lease: time.Minute}); err != nil || len(got) != 0 {
		t.Errorf("claim before due: %v %v", got, err)
	}
	got, err := ws.ClaimWebhooks(ctx(t), store.WebhookClaim{By: "p1", At: c0, Lease: time.Minute})
	must(t, err)
	if len(got) != 2 {
		t.Fatalf("claimed %d, want the two heads", len(got))
	}
	for _, d := range got {
		if d.EventID != "ev0" || d.Attempts != 1 || string(d.Body) != `{"n":0}` {
			t.Errorf("claimed %+v, want ev0, attempt 1", d)
		}
	}
	// Claimed heads block their lines until the lease ends.
	if again, err := ws.ClaimWebhooks(ctx(t), store.WebhookClaim{By: "p2", At: c0.Add(time.Second), Lease: time.Minute}); err != nil || len(again) != 0 {
		t.Errorf("second claim while leased: %v %v", again, err)
	}
	a, b := got[0], got[1]
	if a.Subscription != "a" {
		a, b = b, a
	}
	if err := ws.FinishWebhook(ctx(t), store.WebhookResult{ID: a.ID, By: "p2", At: c0, State: store.WebhookDelivered}); !errors.Is(err, store.ErrVersion) {
		t.Errorf("finish by another claimant: %v, want ErrVersion", err)
	}
	must(t, ws.FinishWebhook(ctx(t), store.WebhookResult{ID: a.ID, By: "p1", At: c0, State: store.WebhookDelivered, Status: 204}))
	must(t, ws.FinishWebhook(ctx(t), store.WebhookResult{ID: b.ID, By: "p1", At: c0, State: store.WebhookPending,
		NextAt: c0.Add(time.Minute), Status: 503, Error: "503 Service Unavailable"}))
	// a moves on to ev1; b retries ev0 at +1m and its ev1 waits behind it.
	got, err = ws.ClaimWebhooks(ctx(t), store.WebhookClaim{By: "p1", At: c0.Add(time.Second), Lease: time.Minute})
	must(t, err)
	if len(got) != 1 || got[0].Subscription != "a" || got[0].EventID != "ev1" {
		t.Fatalf("claim: %+v, want a's ev1 alone", got)
	}
	at, ok, err = ws.NextWebhookDue(ctx(t))
	must(t, err)
	if !ok || !at.Equal(c0.Add(time.Minute)) {
		t.Errorf("next due %v, want +1m (b's retry; a's head is leased until +1m1s)", at)
	}
	// The lease of a claimant that died ends: another process claims it.
	got, err = ws.ClaimWebhooks(ctx(t), store.WebhookClaim{By: "p2", At: c0.Add(2 * time.Minute), Lease: time.Minute})
	must(t, err)
	if len(got) != 2 {
		t.Fatalf("claim after the lease: %+v", got)
	}
	for _, d := range got {
		if d.Subscription == "b" && (d.EventID != "ev0" || d.Attempts != 2) {
			t.Errorf("b's head %+v, want ev0 attempt 2", d)
		}
		if d.Subscription == "a" && (d.EventID != "ev1" || d.Attempts != 2) {
			t.Errorf("a's head %+v, want ev1 again, attempt 2", d)
		}
		st := store.WebhookDelivered
		if d.Subscription == "b" {
			st = store.WebhookDead
		}
		must(t, ws.FinishWebhook(ctx(t), store.WebhookResult{ID: d.ID, By: "p2", At: c0.Add(2 * time.Minute), State: st, Error: "gave up"}))
	}
	dead, _, err := ws.ListWebhookDeliveries(ctx(t), store.WebhookFilter{State: store.WebhookDead}, store.Page{})
	must(t, err)
	if len(dead) != 1 || dead[0].ID != b.ID || dead[0].DoneAt == nil || dead[0].LastError != "gave up" {
		t.Fatalf("dead letters %+v, want b's ev0", dead)
	}
	// A dead head does not block its line: b's ev1 is next.
	got, err = ws.ClaimWebhooks(ctx(t), store.WebhookClaim{By: "p2", At: c0.Add(3 * time.Minute), Lease: time.Minute})
	must(t, err)
	if len(got) != 2 {
		t.Fatalf("claim after dead: %+v", got)
	}
	for _, d := range got {
		must(t, ws.FinishWebhook(ctx(t), store.WebhookResult{ID: d.ID, By: "p2", At: c0.Add(3 * time.Minute), State: store.WebhookDelivered}))
	}
	r, err := ws.ReplayWebhook(ctx(t), b.ID, c0.Add(4*time.Minute))
	must(t, err)
	if r.State != store.WebhookPending || r.Attempts != 0 || r.DoneAt != nil || !r.FirstAt.Equal(c0.Add(4*time.Minute)) || !r.CreatedAt.Equal(c0) {
		t.Errorf("replayed %+v", r)
	}
	if _, err := ws.ReplayWebhook(ctx(t), 999999, c0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("replay of no such id: %v", err)
	}
	got, err = ws.ClaimWebhooks(ctx(t), store.WebhookClaim{By: "p3", At: c0.Add(4 * time.Minute), Lease: time.Minute})
	must(t, err)
	if len(got) != 1 || got[0].ID != b.ID || got[0].Attempts != 1 {
		t.Fatalf("claim after replay: %+v, want the replayed %d alone (a's line is empty), attempt 1", got, b.ID)
	}
	// Pages, newest first.
	p1, next, err := ws.ListWebhookDeliveries(ctx(t), store.WebhookFilter{}, store.Page{Limit: 4})
	must(t, err)
	p2, last, err := ws.ListWebhookDeliveries(ctx(t), store.WebhookFilter{}, store.Page{Limit: 4, Cursor: next})
	must(t, err)
	if len(p1) != 4 || len(p2) != 2 || last != "" || p1[0].ID <= p1[3].ID || p1[3].ID <= p2[0].ID {
		t.Errorf("pages %d then %d (last %q)", len(p1), len(p2), last)
	}
}

// testWebhookBatch: a claim with a limit takes the run of due, unclaimed
// deliveries from each head, in order, and stops at one that waits;
// release gives back the untried ones uncounted.
func testWebhookBatch(t *testing.T, s store.Store) {
	ws := webhooksOf(t, s)
	var ds []store.WebhookDelivery
	for i := range 5 {
		ds = append(ds, store.WebhookDelivery{Subscription: "a", EventID: fmt.Sprintf("a%d", i), EventType: "t", Body: body(i), CreatedAt: c0})
	}
	// b's third waits for later: b claims two.
	for i := range 4 {
		d := store.WebhookDelivery{Subscription: "b", EventID: fmt.Sprintf("b%d", i), EventType: "t", Body: body(i), CreatedAt: c0}
		if i == 2 {
			d.NextAt = c0.Add(time.Hour)
		}
		ds = append(ds, d)
	}
	must(t, ws.EnqueueWebhooks(ctx(t), ds))
	got, err := ws.ClaimWebhooks(ctx(t), store.WebhookClaim{By: "p", At: c0, Lease: time.Minute, Limit: 3})
	must(t, err)
	var ids []string
	for _, d := range got {
		ids = append(ids, d.EventID)
	}
	if fmt.Sprint(ids) != "[a0 a1 a2 b0 b1]" {
		t.Fatalf("claimed %v, want [a0 a1 a2 b0 b1] (in id order, b stopped at b2)", ids)
	}
	// a1 failed: a2 released untried; the rest delivered.
	must(t, ws.FinishWebhooks(ctx(t), []store.WebhookResult{
		{ID: got[0].ID, By: "p", At: c0, State: store.WebhookDelivered},
		{ID: got[1].ID, By: "p", At: c0, State: store.WebhookPending, NextAt: c0.Add(time.Minute), Status: 500},
		{ID: got[3].ID, By: "p", At: c0, State: store.WebhookDelivered},
		{ID: got[4].ID, By: "p", At: c0, State: store.WebhookDelivered},
		{ID: got[4].ID, By: "other", At: c0, State: store.WebhookDead}, // not its claim: skipped
	}))
	must(t, ws.ReleaseWebhooks(ctx(t), "p", []int64{got[2].ID}))
	a2, err := ws.GetWebhookDelivery(ctx(t), got[2].ID)
	must(t, err)
	if a2.Attempts != 0 || a2.State != store.WebhookPending {
		t.Errorf("released %+v, want pending with no attempt", a2)
	}
	b1, err := ws.GetWebhookDelivery(ctx(t), got[4].ID)
	must(t, err)
	if b1.State != store.WebhookDelivered {
		t.Errorf("b1 %+v: another claimant's finish changed it", b1)
	}
	// Pruning takes finished rows done before the cut, never pending ones.
	if n, err := ws.PruneWebhooks(ctx(t), c0.Add(-time.Second)); err != nil || n != 0 {
		t.Errorf("prune before anything finished: %d %v", n, err)
	}
	if n, err := ws.PruneWebhooks(ctx(t), c0.Add(time.Second)); err != nil || n != 3 {
		t.Errorf("prune: %d %v, want the 3 delivered", n, err)
	}
	if _, err := ws.GetWebhookDelivery(ctx(t), got[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a pruned delivery: %v", err)
	}
	// At +1m: a1 again then a2..; b waits for b2 until +1h.
	got, err = ws.ClaimWebhooks(ctx(t), store.WebhookClaim{By: "p", At: c0.Add(time.Minute), Lease: time.Minute, Limit: 10})
	must(t, err)
	ids = nil
	for _, d := range got {
		ids = append(ids, d.EventID)
	}
	if fmt.Sprint(ids) != "[a1 a2 a3 a4]" {
		t.Errorf("claimed %v, want [a1 a2 a3 a4]", ids)
	}
}
