package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/hotline-dev/hotline/store"
)

// testLogCallsConcurrent logs the same calls from several writers at once
// (a replay racing the live path, two replicas): each call is stored once
// and every writer succeeds.
func testLogCallsConcurrent(t *testing.T, s store.Store) {
	var rs []store.CallRecord
	for i := range 20 {
		rs = append(rs, rec(fmt.Sprintf("race-%02d", i), fmt.Sprintf("+8491200%04d", i%4), "technical"))
	}
	const writers = 6
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := append([]store.CallRecord(nil), rs[w%3:]...)
			batch = append(batch, rs[:w%3]...)
			if _, err := s.LogCalls(ctx(t), batch); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent LogCalls: %v", err)
	}
	all, _, err := s.ListInteractions(ctx(t), store.InteractionFilter{Channel: store.ChannelVoice}, store.Page{Limit: 500})
	must(t, err)
	seen := map[string]int{}
	for _, in := range all {
		seen[in.Voice.CallID]++
	}
	if len(all) != len(rs) {
		t.Fatalf("%d interactions for %d calls: %v", len(all), len(rs), seen)
	}
	cs, _, err := s.ListCustomers(ctx(t), store.CustomerFilter{}, store.Page{})
	must(t, err)
	if len(cs) != 4 {
		t.Fatalf("%d customers for 4 callers", len(cs))
	}
}

func testLogCallOutbound(t *testing.T, s store.Store) {
	c := newCustomer(t, s, "+84912345678")
	r := rec("cb-1", "1900", "callback")
	r.Direction = store.DirectionOutbound
	r.Voice.CalledNumber = "0912 345 678"
	res := logCall(t, s, r)
	if res.CustomerID != c.ID || res.NewCustomer {
		t.Fatalf("outbound call matched customer %d (new %v); want the called party %d", res.CustomerID, res.NewCustomer, c.ID)
	}
	in, err := s.GetInteraction(ctx(t), res.InteractionID)
	must(t, err)
	if in.Direction != store.DirectionOutbound {
		t.Fatalf("direction = %q", in.Direction)
	}
}
