package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/sqlite"
	"github.com/hotline-dev/hotline/webhook"
)

var secret = strings.Repeat("s", 40)

// loopback is the allow-list of tests: their receivers are on 127.0.0.1.
var loopback = []string{"127.0.0.0/8"}

// receiver is a real HTTP server on loopback that verifies every
// delivery as docs/api.md says a helpdesk should.
type receiver struct {
	t    *testing.T
	mu   sync.Mutex
	got  []webhook.Event
	seen map[string]bool
	bad  int
	dups int  // verified deliveries of an event seen already
	down bool // answer 503
	srv  *http.Server
	addr string
	note chan struct{}
	now  func() time.Time // the receiver's clock; nil: time.Now
}

func newReceiver(t *testing.T, addr string) *receiver {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{t: t, seen: map[string]bool{}, addr: ln.Addr().String(), note: make(chan struct{}, 1)}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	t.Cleanup(r.stop)
	return r
}

func (r *receiver) stop() { _ = r.srv.Close() }

func (r *receiver) url() string { return "http://" + r.addr + "/hooks" }

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	now := time.Now()
	if r.now != nil {
		now = r.now()
	}
	if err := webhook.Verify([]byte(secret), req.Header.Get(webhook.HeaderSignature), body, now, 0); err != nil {
		r.bad++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var ev webhook.Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID != req.Header.Get(webhook.HeaderEventID) {
		r.bad++
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	if !r.seen[ev.ID] { // de-duplicate on the event id, as a desk does
		r.seen[ev.ID] = true
		r.got = append(r.got, ev)
	} else {
		r.dups++
	}
	w.WriteHeader(http.StatusNoContent)
	select {
	case r.note <- struct{}{}:
	default:
	}
}

func (r *receiver) setDown(d bool) { r.mu.Lock(); r.down = d; r.mu.Unlock() }

func (r *receiver) events() []webhook.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]webhook.Event(nil), r.got...)
}

// waitFor waits (bounded) until the receiver holds n events.
func (r *receiver) waitFor(n int, within time.Duration) []webhook.Event {
	r.t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		if got := r.events(); len(got) >= n {
			return got
		}
		select {
		case <-r.note:
		case <-deadline.C:
			got := r.events()
			r.t.Fatalf("receiver has %d events after %v, want %d: %v", len(got), within, n, types(got))
		}
	}
}

func types(evs []webhook.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type + "/" + e.ID
	}
	return out
}

func openDB(t *testing.T, path string) store.Webhooks {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, store.Options{DefaultCountry: "VN"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func fast() config.WebhookDelivery {
	return config.WebhookDelivery{BackoffMin: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond, Retry: time.Hour, Timeout: 2 * time.Second,
		AllowNetworks: loopback}
}

func start(t *testing.T, db store.Webhooks, cfg webhook.Config) (*webhook.Service, func()) {
	t.Helper()
	cfg.Store = func(context.Context) (store.Webhooks, error) { return db, nil }
	s, err := webhook.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(func() {
		select {
		case <-ctx.Done():
		default:
			stop()
		}
	})
	return s, stop
}

// Bus events become signed deliveries in publish order; a type the
// filter does not name is not sent.
func TestBusEventsDeliveredInOrderSigned(t *testing.T) {
	rc := newReceiver(t, "")
	bus := events.NewBus()
	db := openDB(t, filepath.Join(t.TempDir(), "h.db"))
	_, _ = start(t, db, webhook.Config{Bus: bus, Delivery: fast(),
		File: map[string]config.Webhook{"desk": {URL: rc.url(), Secret: secret, Events: []string{"call.started", "call.answered", "agent.state"}}}})
	const calls = 20
	for i := range calls {
		id := fmt.Sprintf("call-%02d", i)
		bus.Publish(events.Event{Type: events.CallStarted, CallID: id, Payload: map[string]string{"from": "+84901234567"}})
		bus.Publish(events.Event{Type: events.NodeEntered, CallID: id}) // not a webhook type
		bus.Publish(events.Event{Type: events.CallAnswered, CallID: id})
	}
	got := rc.waitFor(2*calls, 10*time.Second)
	for i := range calls {
		id := fmt.Sprintf("call-%02d", i)
		if a, b := got[2*i], got[2*i+1]; a.Type != "call.started" || a.CallID != id || b.Type != "call.answered" || b.CallID != id {
			t.Fatalf("events %d-%d: %v, want call.started then call.answered of %s", 2*i, 2*i+1, types(got[2*i:2*i+2]), id)
		}
	}
	if string(got[0].Data) != `{"from":"+84901234567"}` {
		t.Errorf("data %s", got[0].Data)
	}
	if rc.bad != 0 {
		t.Errorf("%d deliveries failed verification", rc.bad)
	}
}

// The receiver is down (503, then not listening at all), Hotline stops
// without finishing (its claims left behind) and a new process takes
// over: once the receiver is back every event arrives, in order, none lost.
func TestOutageAndRestartLoseNothing(t *testing.T) {
	rc := newReceiver(t, "")
	addr := rc.addr
	rc.setDown(true)
	path := filepath.Join(t.TempDir(), "h.db")
	db := openDB(t, path)
	file := map[string]config.Webhook{"desk": {URL: rc.url(), Secret: secret}}
	s1, stop1 := start(t, db, webhook.Config{Boot: "first", Delivery: fast(), File: file, Lease: 10 * time.Second})
	var evs []webhook.Event
	for i := range 30 {
		evs = append(evs, webhook.Event{ID: fmt.Sprintf("evt_%02d", i), Type: "call.started", Created: time.Now(), Data: json.RawMessage(`{}`)})
	}
	if err := s1.Enqueue(t.Context(), evs[:15]...); err != nil {
		t.Fatal(err)
	}
	// Wait until deliveries have failed a few times.
	for deadline := time.Now().Add(5 * time.Second); s1.Stats().Failed < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("no failed attempts: %+v", s1.Stats())
		}
		time.Sleep(5 * time.Millisecond) // polling a counter with a bound, not synchronisation
	}
	rc.stop() // not even listening now
	if err := s1.Enqueue(t.Context(), evs[15:]...); err != nil {
		t.Fatal(err)
	}
	stop1()
	ds, _, err := db.ListWebhookDeliveries(t.Context(), store.WebhookFilter{State: store.WebhookPending}, store.Page{Limit: 100})
	if err != nil || len(ds) != 30 {
		t.Fatalf("pending after the stop: %d %v, want 30", len(ds), err)
	}
	rc2 := newReceiver(t, addr) // back, same address
	db2 := openDB(t, path)      // the new process's connection
	s2, _ := start(t, db2, webhook.Config{Boot: "second", Delivery: fast(), File: file, Lease: 10 * time.Second})
	got := rc2.waitFor(30, 15*time.Second)
	for i, e := range got {
		if e.ID != evs[i].ID {
			t.Fatalf("event %d is %s, want %s (order): %v", i, e.ID, evs[i].ID, types(got))
		}
	}
	// Every row delivered (the last outcome is written just after the
	// receiver answered: poll with a bound).
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		done, _, err := db2.ListWebhookDeliveries(t.Context(), store.WebhookFilter{State: store.WebhookDelivered}, store.Page{Limit: 100})
		if err == nil && len(done) == 30 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivered rows %d %v, want 30; stats %+v", len(done), err, s2.Stats())
		}
	}
}

// A clock the test moves: each failure is retried at Min·2^(n-1) (jitter
// drawn as 0 here) until 24 h have passed, then the delivery is dead;
// a replay puts it back with a fresh horizon. No sleeps.
func TestBackoffAndDeadLetterWithInjectedClock(t *testing.T) {
	rc := newReceiver(t, "")
	rc.setDown(true)
	db := openDB(t, filepath.Join(t.TempDir(), "h.db"))
	now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	s, err := webhook.New(webhook.Config{Store: func(context.Context) (store.Webhooks, error) { return db, nil },
		Now: func() time.Time { return now }, Rand: func() float64 { return 0 }, Boot: "clock",
		Delivery: config.WebhookDelivery{BackoffMin: time.Minute, BackoffMax: 4 * time.Hour, Retry: 24 * time.Hour, AllowNetworks: loopback},
		File:     map[string]config.Webhook{"desk": {URL: rc.url(), Secret: secret}}})
	if err != nil {
		t.Fatal(err)
	}
	ev := webhook.Event{ID: "evt_1", Type: "call.ended", Created: now, Data: json.RawMessage(`{"x":1}`)}
	if err := s.Enqueue(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	first := now
	wantGap := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute, 32 * time.Minute,
		64 * time.Minute, 128 * time.Minute, 4 * time.Hour, 4 * time.Hour, 4 * time.Hour, 4 * time.Hour}
	for i, gap := range wantGap {
		n, err := s.Step(t.Context())
		if err != nil || n != 1 {
			t.Fatalf("attempt %d: Step = %d, %v", i+1, n, err)
		}
		d := onlyDelivery(t, db)
		if d.State != store.WebhookPending || d.Attempts != i+1 || !d.NextAt.Equal(now.Add(gap)) || d.LastStatus != 503 {
			t.Fatalf("after attempt %d: %+v, want pending, next at +%v", i+1, d, gap)
		}
		// Not due a moment before.
		now = d.NextAt.Add(-time.Second)
		if n, _ := s.Step(t.Context()); n != 0 {
			t.Fatalf("attempt %d: claimed before its time", i+1)
		}
		now = d.NextAt
	}
	// 1+2+...+128 min = 4h15m, then 4×4h = 20h15m; one more 4h would pass
	// 24h: the 13th failure is the last.
	if n, err := s.Step(t.Context()); n != 1 || err != nil {
		t.Fatalf("last attempt: %d %v", n, err)
	}
	d := onlyDelivery(t, db)
	if d.State != store.WebhookDead || d.DoneAt == nil || !strings.Contains(d.LastError, "dead letter") {
		t.Fatalf("after the horizon: %+v, want dead", d)
	}
	if now.Sub(first) < 20*time.Hour {
		t.Errorf("dead after only %v", now.Sub(first))
	}
	// Replay: receiver back. Its clock is the real one first: the
	// signature, made on the test's clock a day ahead, is refused as a
	// replay (401, retried); on the same clock it is accepted.
	rc.setDown(false)
	if _, err := s.Replay(t.Context(), d.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Step(t.Context()); n != 1 || err != nil {
		t.Fatalf("replayed attempt: %d %v", n, err)
	}
	if d := onlyDelivery(t, db); d.State != store.WebhookPending || d.LastStatus != 401 {
		t.Fatalf("a signature from a day ahead: %+v, want refused (401) and pending", d)
	}
	rc.mu.Lock()
	rc.now = func() time.Time { return now }
	rc.mu.Unlock()
	now = now.Add(time.Minute)
	if n, err := s.Step(t.Context()); n != 1 || err != nil {
		t.Fatalf("replayed attempt 2: %d %v", n, err)
	}
	if d := onlyDelivery(t, db); d.State != store.WebhookDelivered || d.Attempts != 2 {
		t.Fatalf("after replay: %+v", d)
	}
	if got := rc.events(); len(got) != 1 || got[0].ID != "evt_1" {
		t.Errorf("receiver got %v", types(got))
	}
}

func onlyDelivery(t *testing.T, db store.Webhooks) store.WebhookDelivery {
	t.Helper()
	ds, _, err := db.ListWebhookDeliveries(t.Context(), store.WebhookFilter{}, store.Page{})
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries: %v %v", ds, err)
	}
	return ds[0]
}

// Publish never waits on the outbox: with a database that does not
// answer, the call path goes on and events beyond the buffer are counted
// as dropped.
func TestPublishNeverBlocks(t *testing.T) {
	bus := events.NewBus()
	block := make(chan struct{})
	defer close(block)
	s, err := webhook.New(webhook.Config{Bus: bus, Buffer: 10, Delivery: fast(),
		Store: func(ctx context.Context) (store.Webhooks, error) {
			select {
			case <-block:
			case <-ctx.Done():
			}
			return nil, fmt.Errorf("test: %w", store.ErrUnavailable)
		},
		File: map[string]config.Webhook{"desk": {URL: "http://127.0.0.1:1/", Secret: secret}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	t0 := time.Now()
	for range 1000 {
		bus.Publish(events.Event{Type: events.CallStarted, CallID: "c"})
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("1000 publishes took %v", d)
	}
	if st := s.Stats(); st.Dropped < 990-10 || st.Queued > 10 {
		t.Errorf("stats %+v, want the buffer full and the rest dropped", st)
	}
	cancel()
	<-done
}

func TestServiceRefusesBadFileSubscription(t *testing.T) {
	_, err := webhook.New(webhook.Config{Store: func(context.Context) (store.Webhooks, error) { return nil, errors.New("x") },
		File: map[string]config.Webhook{"desk": {URL: "http://127.0.0.1/", Secret: "short"}}})
	if err == nil || !strings.Contains(err.Error(), "webhooks.desk.secret") {
		t.Errorf("New = %v", err)
	}
}

// A claimed run stops sending when the next attempt could outlast the
// claim's lease (past it another claim may send the same line): the rest
// is given back untried, and sent by the next claim.
func TestRunStopsBeforeTheLeaseEnds(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	rc := newReceiver(t, "")
	rc.now = func() time.Time { // each delivery takes a second on the test's clock
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}
	db := openDB(t, filepath.Join(t.TempDir(), "h.db"))
	s, err := webhook.New(webhook.Config{Store: func(context.Context) (store.Webhooks, error) { return db, nil }, Now: clock, Boot: "lease",
		Delivery: config.WebhookDelivery{Timeout: time.Second, AllowNetworks: loopback}, Lease: 7 * time.Second, // timeout + 5s margin + 1s: two attempts fit
		File: map[string]config.Webhook{"desk": {URL: rc.url(), Secret: secret}}})
	if err != nil {
		t.Fatal(err)
	}
	var evs []webhook.Event
	for i := range 3 {
		evs = append(evs, webhook.Event{ID: fmt.Sprintf("e%d", i), Type: "call.ended", Created: clock(), Data: json.RawMessage(`{}`)})
	}
	if err := s.Enqueue(t.Context(), evs...); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Step(t.Context()); n != 3 || err != nil {
		t.Fatalf("claimed %d, %v; want the run of 3", n, err)
	}
	if got := rc.events(); len(got) != 2 {
		t.Fatalf("sent %v within the lease, want e0 e1", types(got))
	}
	ds, _, err := db.ListWebhookDeliveries(t.Context(), store.WebhookFilter{State: store.WebhookPending}, store.Page{})
	if err != nil || len(ds) != 1 || ds[0].EventID != "e2" || ds[0].Attempts != 0 {
		t.Fatalf("pending %+v %v, want e2 given back untried", ds, err)
	}
	if n, err := s.Step(t.Context()); n != 1 || err != nil {
		t.Fatalf("next claim %d %v", n, err)
	}
	if got := rc.events(); len(got) != 3 || got[2].ID != "e2" {
		t.Errorf("receiver %v", types(got))
	}
}

// The callback service's and the ACD's bus events map to the webhook
// types (callback.dialling is callback.attempted; scheduled and waiting
// are not webhook events); an empty filter is every type.
func TestCallbackAndAgentEvents(t *testing.T) {
	rc := newReceiver(t, "")
	bus := events.NewBus()
	db := openDB(t, filepath.Join(t.TempDir(), "h.db"))
	_, _ = start(t, db, webhook.Config{Bus: bus, Delivery: fast(), File: map[string]config.Webhook{"desk": {URL: rc.url(), Secret: secret}}})
	for _, typ := range []string{"callback.requested", "callback.scheduled", "callback.waiting", "callback.dialling", "callback.completed",
		"callback.expired", events.AgentState, events.QueueJoined} {
		bus.Publish(events.Event{Type: typ, Queue: "billing", Agent: "lan", Payload: map[string]any{"id": 7}})
	}
	got := rc.waitFor(5, 10*time.Second)
	want := []string{"callback.requested", "callback.attempted", "callback.completed", "callback.expired", "agent.state"}
	for i, w := range want {
		if got[i].Type != w || got[i].Queue != "billing" || got[i].Agent != "lan" || string(got[i].Data) != `{"id":7}` {
			t.Errorf("event %d: %+v, want %s", i, got[i], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %v", types(got))
	}
}
