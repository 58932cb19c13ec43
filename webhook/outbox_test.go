package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/sqlite"
	"github.com/hotline-dev/hotline/webhook"
)

// openOutboxDB opens a store whose writes make svc's deliveries.
func openOutboxDB(t *testing.T, svc store.Outbox) outboxStore {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "h.db"), store.Options{DefaultCountry: "VN", Outbox: svc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func callRec(id, caller string) store.CallRecord {
	at := time.Now().UTC().Truncate(time.Millisecond)
	return store.CallRecord{StartedAt: at.Add(-time.Minute), EndedAt: at, Direction: store.DirectionInbound, Category: "billing",
		Voice: store.VoiceDetails{CallID: id, FromTag: "ft", CallerNumber: caller, Outcome: store.OutcomeCompleted}}
}

// The store's writes are in the outbox when they return, with nothing
// running in the service (no queue, no writer: a kill -9 right after the
// write loses nothing); the deliverer then sends them in write order,
// with ids made of the rows' ids.
func TestStoreWritesAreInTheOutboxWhenCommitted(t *testing.T) {
	rc := newReceiver(t, "")
	var db outboxStore
	svc, err := webhook.New(webhook.Config{Store: func(context.Context) (store.Webhooks, error) { return db, nil }, Delivery: fast(),
		File: map[string]config.Webhook{"desk": {URL: rc.url(), Secret: secret}}})
	if err != nil {
		t.Fatal(err)
	}
	db = openOutboxDB(t, svc)
	c := &store.Customer{Name: "Bình", Phones: []string{"+84903123456"}}
	if err := db.CreateCustomer(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	tk := &store.Ticket{CustomerID: c.ID, Subject: "Hoàn tiền"}
	if err := db.CreateTicket(t.Context(), tk); err != nil {
		t.Fatal(err)
	}
	tk.Status = store.StatusPending
	if err := db.UpdateTicket(t.Context(), tk); err != nil {
		t.Fatal(err)
	}
	in := &store.Interaction{CustomerID: c.ID, TicketID: tk.ID, Channel: store.ChannelEmail, Summary: "mail", StartedAt: time.Now()}
	if err := db.CreateInteraction(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	res, err := db.LogCall(t.Context(), callRec("tx-call", "0911222333"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.LogCall(t.Context(), callRec("tx-call", "0911222333")); err != nil { // the spool replayed
		t.Fatal(err)
	}
	ds, _, err := db.ListWebhookDeliveries(t.Context(), store.WebhookFilter{}, store.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 6 || svc.Stats().Enqueued != 6 {
		t.Fatalf("outbox after the writes: %d rows (stats %+v), want 6", len(ds), svc.Stats())
	}
	for {
		n, err := svc.Step(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	got := rc.waitFor(6, 10*time.Second)
	// The call's caller is new: a customer and ticket 2 of its own.
	want := []string{"ticket.created/ticket_1_created", fmt.Sprintf("ticket.updated/ticket_1_updated_%d", tk.Version),
		"interaction.created/interaction_1_created", "call.ended/call_2_ended", "ticket.created/ticket_2_created",
		"interaction.created/interaction_2_created"}
	if !slices.Equal(types(got), want) {
		t.Fatalf("events\n got %v\nwant %v", types(got), want)
	}
	if got[3].CallID != "tx-call" || res.InteractionID != 2 || !res.NewTicket {
		t.Fatalf("call.ended %+v; log result %+v", got[3], res)
	}
}

// flakyOutbox is a store whose outbox the queue's writer cannot write
// while down is set (the database was away); the store's own writes go
// through.
type flakyOutbox struct {
	outboxStore
	down atomic.Bool
}

func (f *flakyOutbox) EnqueueWebhooks(ctx context.Context, ds []store.WebhookDelivery) error {
	if f.down.Load() {
		return errors.New("database away")
	}
	return f.outboxStore.EnqueueWebhooks(ctx, ds)
}

// A call's call.started waits in the queue (the outbox write failing);
// Flush, which the call log calls before writing records, lets it land
// before the record's call.ended: the subscription gets them in order.
func TestFlushOrdersQueuedEventsBeforeCallEnded(t *testing.T) {
	rc := newReceiver(t, "")
	bus := events.NewBus()
	db := &flakyOutbox{}
	db.down.Store(true)
	svc, err := webhook.New(webhook.Config{Store: func(context.Context) (store.Webhooks, error) { return db, nil }, Bus: bus, Delivery: fast(),
		File: map[string]config.Webhook{"desk": {URL: rc.url(), Secret: secret, Events: []string{"call.started", "call.ended"}}}})
	if err != nil {
		t.Fatal(err)
	}
	db.outboxStore = openOutboxDB(t, svc)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	bus.Publish(events.Event{Type: events.CallStarted, CallID: "fl-call", Payload: map[string]string{"from": "0911222444"}})
	for deadline := time.Now().Add(10 * time.Second); svc.Stats().WriteFails == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the writer never tried: %+v", svc.Stats())
		}
	}
	db.down.Store(false)
	t0 := time.Now()
	svc.Flush(t.Context())
	if ds, _, err := db.ListWebhookDeliveries(t.Context(), store.WebhookFilter{}, store.Page{}); err != nil || len(ds) != 1 || ds[0].EventType != "call.started" {
		t.Fatalf("Flush returned after %v with the outbox %+v %v; stats %+v", time.Since(t0), ds, err, svc.Stats())
	}
	if _, err := db.LogCall(t.Context(), callRec("fl-call", "0911222444")); err != nil {
		t.Fatal(err)
	}
	got := rc.waitFor(2, 10*time.Second)
	if got[0].Type != "call.started" || got[1].Type != "call.ended" || got[1].CallID != "fl-call" {
		t.Fatalf("events %v, want call.started then call.ended", types(got))
	}
}

// A receiver that redirects is not followed (the signed body would go
// where nobody configured, possibly an internal address): the attempt is
// a failure with the 3xx, retried to the configured URL only.
func TestRedirectNotFollowed(t *testing.T) {
	redir := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusTemporaryRedirect)
	}), ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = redir.Serve(ln) }()
	defer redir.Close()
	db := openDB(t, filepath.Join(t.TempDir(), "h.db"))
	svc, err := webhook.New(webhook.Config{Store: func(context.Context) (store.Webhooks, error) { return db, nil }, Delivery: fast(),
		File: map[string]config.Webhook{"desk": {URL: "http://" + ln.Addr().String() + "/", Secret: secret}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Enqueue(t.Context(), webhook.Event{ID: "evt_r", Type: "call.started", Created: time.Now(), Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if n, err := svc.Step(t.Context()); n != 1 || err != nil {
		t.Fatalf("Step: %d %v", n, err)
	}
	// The 3xx is the outcome; followed, the attempt would have ended in
	// the refused connection to 169.254.169.254 (no status).
	d := onlyDelivery(t, db)
	if d.State != store.WebhookPending || d.LastStatus != http.StatusTemporaryRedirect || !strings.Contains(d.LastError, "307") {
		t.Fatalf("after a redirect: %+v", d)
	}
}
