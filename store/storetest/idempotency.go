package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// testIdempotencyKeys: of concurrent claims of one key exactly one wins;
// the others read the claim (Status 0), then the saved answer; a release
// lets the key be claimed again; a stale claim is taken over.
func testIdempotencyKeys(t *testing.T, s store.Store) {
	idem, ok := s.(store.Idempotency)
	if !ok {
		t.Fatalf("%T does not keep idempotency keys", s)
	}
	const racers = 10
	var wg sync.WaitGroup
	wins := make(chan bool, racers)
	for range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, claimed, err := idem.ClaimIdempotencyKey(ctx(t), "mail", "k1", "h1", time.Minute)
			if err != nil {
				t.Errorf("claim: %v", err)
				return
			}
			if !claimed && (got.Status != 0 || got.RequestHash != "h1") {
				t.Errorf("a loser read %+v", got)
			}
			wins <- claimed
		}()
	}
	wg.Wait()
	close(wins)
	n := 0
	for w := range wins {
		if w {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d of %d concurrent claims won, want 1", n, racers)
	}
	must(t, idem.SaveIdempotencyKey(ctx(t), store.IdempotentResult{Scope: "mail", Key: "k1", Status: 201,
		Headers: map[string]string{"Location": "/x/1"}, Body: []byte(`{"id":1}`)}))
	got, claimed, err := idem.ClaimIdempotencyKey(ctx(t), "mail", "k1", "h1", time.Minute)
	must(t, err)
	if claimed || got.Status != 201 || got.Headers["Location"] != "/x/1" || string(got.Body) != `{"id":1}` {
		t.Fatalf("after save: claimed %v, %+v", claimed, got)
	}
	// Another scope has its own keys.
	if _, claimed, err := idem.ClaimIdempotencyKey(ctx(t), "chat", "k1", "h2", time.Minute); err != nil || !claimed {
		t.Fatalf("another scope: claimed %v, %v", claimed, err)
	}
	// A released claim runs again; a saved answer is not released.
	must(t, idem.ReleaseIdempotencyKey(ctx(t), "chat", "k1"))
	if _, claimed, err := idem.ClaimIdempotencyKey(ctx(t), "chat", "k1", "h2", time.Minute); err != nil || !claimed {
		t.Fatalf("after release: claimed %v, %v", claimed, err)
	}
	must(t, idem.ReleaseIdempotencyKey(ctx(t), "mail", "k1"))
	if _, claimed, _ := idem.ClaimIdempotencyKey(ctx(t), "mail", "k1", "h1", time.Minute); claimed {
		t.Fatal("release dropped a saved answer")
	}
	// A claim older than stale with no answer is taken over.
	if _, claimed, err := idem.ClaimIdempotencyKey(ctx(t), "chat", "k1", "h3", -time.Second); err != nil || !claimed {
		t.Fatalf("stale claim: claimed %v, %v", claimed, err)
	}
}
