package postgres_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
)

// TestWebhookClaimsOneClaimantAcrossNodes: two stores on one schema (two
// nodes' pools) claim the outbox concurrently, several claimants each. A
// line (a subscription's pending deliveries) must have one claimant at a
// time, so every delivery is claimed once and each line is taken in id
// order cluster-wide. Read-committed claims without the claim lock both
// take a line they each saw unclaimed.
func TestWebhookClaimsOneClaimantAcrossNodes(t *testing.T) {
	url := pgtest.Schema(t)
	var nodes [2]store.Webhooks
	for i := range nodes {
		s, err := postgres.Open(t.Context(), url, store.Options{DefaultCountry: "VN"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		nodes[i] = s
	}
	const subs, perSub = 4, 150
	var ds []store.WebhookDelivery
	at := time.Now().Add(-time.Minute)
	for i := range perSub {
		for j := range subs {
			ds = append(ds, store.WebhookDelivery{Subscription: fmt.Sprintf("wh_%d", j), EventID: fmt.Sprintf("e%d", i),
				EventType: "call.ended", Body: fmt.Appendf(nil, `{"n":%d}`, i), CreatedAt: at})
		}
	}
	if err := nodes[0].EnqueueWebhooks(t.Context(), ds); err != nil {
		t.Fatal(err)
	}

	var (
		mu      sync.Mutex
		holder  = map[string]string{} // subscription: the claimant holding its line
		last    = map[string]int64{}  // subscription: the last id sent
		sent    = map[int64]int{}
		errs    []string
		wg      sync.WaitGroup
		perNode = 3
	)
	fail := func(f string, a ...any) { errs = append(errs, fmt.Sprintf(f, a...)) }
	for n, db := range nodes {
		for c := range perNode {
			by := fmt.Sprintf("node%d-%d", n, c)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for idle := 0; idle < 3; {
					got, err := db.ClaimWebhooks(t.Context(), store.WebhookClaim{By: by, At: time.Now(), Lease: time.Minute, Limit: 8})
					if err != nil {
						mu.Lock()
						fail("%s: claim: %v", by, err)
						mu.Unlock()
						return
					}
					if len(got) == 0 {
						idle++
						continue
					}
					idle = 0
					lines := map[string]bool{}
					mu.Lock()
					for _, d := range got {
						if h, ok := holder[d.Subscription]; ok && h != by {
							fail("%s claimed delivery %d of %s while %s holds that line", by, d.ID, d.Subscription, h)
						}
						holder[d.Subscription], lines[d.Subscription] = by, true
						if d.ID <= last[d.Subscription] {
							fail("%s: delivery %d of %s after %d: out of order", by, d.ID, d.Subscription, last[d.Subscription])
						}
						last[d.Subscription] = d.ID
						sent[d.ID]++
					}
					mu.Unlock()
					rs := make([]store.WebhookResult, len(got))
					for i, d := range got {
						rs[i] = store.WebhookResult{ID: d.ID, By: by, At: time.Now(), State: store.WebhookDelivered}
					}
					// Give up the lines before the outcome commits: a claim
					// that follows may take them the moment it does.
					mu.Lock()
					for sub := range lines {
						delete(holder, sub)
					}
					mu.Unlock()
					if err := db.FinishWebhooks(t.Context(), rs); err != nil {
						mu.Lock()
						fail("%s: finish: %v", by, err)
						mu.Unlock()
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	for _, e := range errs[:min(len(errs), 10)] {
		t.Error(e)
	}
	if len(sent) != len(ds) {
		t.Errorf("%d deliveries claimed, want %d", len(sent), len(ds))
	}
	twice := 0
	for id, n := range sent {
		if n != 1 {
			if twice++; twice <= 5 {
				t.Errorf("delivery %d claimed %d times, want once", id, n)
			}
		}
	}
	pending, _, err := nodes[1].ListWebhookDeliveries(t.Context(), store.WebhookFilter{State: store.WebhookPending}, store.Page{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 0 {
		t.Errorf("pending after the run: %+v", pending)
	}
}
