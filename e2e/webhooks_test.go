package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
	"github.com/hotline-dev/hotline/store/storeopen"
	"github.com/hotline-dev/hotline/testcall"
	"github.com/hotline-dev/hotline/webhook"
)

const hookSecret = "e2e-webhook-secret-0123456789abcdef"

// hookReceiver is a helpdesk's webhook endpoint: a real HTTP server on
// loopback that verifies every delivery (webhook.Verify, as docs/api.md
// shows) and keeps the events in arrival order, de-duplicated by id.
type hookReceiver struct {
	t      *testing.T
	mu     sync.Mutex
	events []webhook.Event
	seen   map[string]int
	bad    []string
	down   bool
	addr   string
	srv    *http.Server
	note   chan struct{}
}

func newHookReceiver(t *testing.T, addr string) *hookReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	must(t, err)
	r := &hookReceiver{t: t, seen: map[string]int{}, addr: ln.Addr().String(), note: make(chan struct{}, 1)}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	t.Cleanup(func() { _ = r.srv.Close() })
	return r
}

func (r *hookReceiver) url() string { return "http://" + r.addr + "/hotline" }

func (r *hookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
		return
	}
	if err := webhook.Verify([]byte(hookSecret), req.Header.Get(webhook.HeaderSignature), body, time.Now(), 0); err != nil {
		r.bad = append(r.bad, err.Error())
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var ev webhook.Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID != req.Header.Get(webhook.HeaderEventID) {
		r.bad = append(r.bad, "body: "+string(body))
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	r.seen[ev.ID]++
	if r.seen[ev.ID] == 1 {
		r.events = append(r.events, ev)
	}
	w.WriteHeader(http.StatusNoContent)
	select {
	case r.note <- struct{}{}:
	default:
	}
}

func (r *hookReceiver) setDown(d bool) { r.mu.Lock(); r.down = d; r.mu.Unlock() }

// wait waits (bounded) until cond holds on the events received.
func (r *hookReceiver) wait(d time.Duration, what string, cond func([]webhook.Event) bool) []webhook.Event {
	r.t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		r.mu.Lock()
		evs := append([]webhook.Event(nil), r.events...)
		r.mu.Unlock()
		if cond(evs) {
			return evs
		}
		select {
		case <-r.note:
		case <-timer.C:
			r.t.Fatalf("receiver: no %s within %v; got %v", what, d, hookTypes(evs))
		}
	}
}

func hookTypes(evs []webhook.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type + "(" + e.CallID + ")"
	}
	return out
}

func ofCall(evs []webhook.Event, callID string) []webhook.Event {
	var out []webhook.Event
	for _, e := range evs {
		if e.CallID == callID {
			out = append(out, e)
		}
	}
	return out
}

// A call through the IVR (the Go caller, the e2e flow) produces
// call.started, call.answered and call.ended (with the record and its
// ticket) in order, every one with a valid signature.
func TestWebhooksCallThroughIVR(t *testing.T) {
	rc := newHookReceiver(t, "127.0.0.1:0")
	h := start(t, func(c *config.Config) {
		c.Webhooks = map[string]config.Webhook{"desk": {URL: rc.url(), Secret: hookSecret,
			Events: []string{"call.started", "call.answered", "call.ended", "interaction.created", "ticket.created"}}}
		c.WebhookDelivery.AllowNetworks = []string{"127.0.0.0/8"} // the receiver is on loopback
	})
	_, call, _ := dial(t, h, "sip:100@"+h.sipAddr("udp"), sip.DialOptions{From: "0912345678"})
	id := call.ID()
	h.node(id, "language")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	must(t, call.Hangup(ctx))
	cancel()
	h.waitEvent(10*time.Second, "call.ended", func(e events.Event) bool { return e.CallID == id && e.Type == events.CallEnded })

	evs := rc.wait(20*time.Second, "call.ended of "+id, func(evs []webhook.Event) bool {
		for _, e := range evs {
			if e.Type == "call.ended" && e.CallID == id {
				return true
			}
		}
		return false
	})
	mine := ofCall(evs, id)
	var order []string
	for _, e := range mine {
		order = append(order, e.Type)
	}
	if len(order) < 3 || order[0] != "call.started" || order[1] != "call.answered" || order[2] != "call.ended" {
		t.Fatalf("events of the call in order: %v, want call.started, call.answered, call.ended first", order)
	}
	var ended webhook.CallEnded
	must(t, json.Unmarshal(mine[2].Data, &ended))
	if ended.Record.Voice.CallID != id || ended.Record.Voice.CallerNumber != "0912345678" || ended.InteractionID == 0 || ended.TicketID == 0 {
		t.Errorf("call.ended data: %+v", ended)
	}
	it := h.interaction(id)
	if it.ID != ended.InteractionID || it.TicketID != ended.TicketID {
		t.Errorf("call.ended names interaction %d ticket %d, the history has %d %d", ended.InteractionID, ended.TicketID, it.ID, it.TicketID)
	}
	rc.wait(10*time.Second, "interaction.created and ticket.created", func(evs []webhook.Event) bool {
		var i, tk bool
		for _, e := range ofCall(evs, id) {
			i = i || e.Type == "interaction.created"
			tk = tk || e.Type == "ticket.created"
		}
		return i && tk
	})
	// The API's writes are events too: a desk's own email on the call's ticket.
	code, _, b := apiDo(t, h, "POST", "/api/v1/interactions", fmt.Sprintf(
		`{"ticket_id": %d, "customer_id": %d, "channel": "email", "direction": "outbound", "summary": "We called you back"}`, it.TicketID, it.CustomerID))
	if code != http.StatusCreated {
		t.Fatalf("POST /interactions: %d %s", code, b)
	}
	var email struct{ ID int64 }
	must(t, json.Unmarshal(b, &email))
	rc.wait(10*time.Second, "interaction.created of the email", func(evs []webhook.Event) bool {
		for _, e := range evs {
			var d struct {
				ID      int64
				Channel string
			}
			if e.Type == "interaction.created" && json.Unmarshal(e.Data, &d) == nil && d.ID == email.ID && d.Channel == "email" {
				return true
			}
		}
		return false
	})
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bad) > 0 {
		t.Errorf("deliveries refused by the receiver's verification: %v", rc.bad)
	}
	for _, e := range rc.events {
		if strings.HasPrefix(e.Type, "agent.") || strings.HasPrefix(e.Type, "callback.") {
			t.Errorf("%s delivered though the filter does not name it", e.Type)
		}
	}
}

// The receiver is down while calls end; Hotline is killed (-9) with the
// deliveries retrying; started again, and with the receiver back, every
// call's call.started, call.answered and call.ended arrive, in order,
// none lost, each under one event id (at least once: a delivery sent
// again carries the same id, so the receiver's de-duplication keeps one).
// On both stores.
func TestWebhooksSurviveKillDuringOutage(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		webhooksSurviveKill(t, dir, "sqlite:"+filepath.Join(dir, "hotline.db"))
	})
	t.Run("postgres", func(t *testing.T) { webhooksSurviveKill(t, t.TempDir(), pgtest.Schema(t)) })
}

func webhooksSurviveKill(t *testing.T, dir, dbURL string) {
	rc := newHookReceiver(t, "127.0.0.1:0")
	rc.setDown(true)
	t.Setenv(childWebhookEnv, rc.url())
	must(t, os.MkdirAll(filepath.Join(dir, "flows"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "flows", "hold.yaml"), []byte(holdFlow), 0o644))
	c1 := startChild(t, dir, dbURL, 1)
	cs := newCalls(t)
	const n = 4
	res := make(chan *testcall.Result, n)
	for i := range n {
		cs.gocall(c1.sip, holdNumber, fmt.Sprintf("091000001%d", i), "", time.Second, res)
	}
	for range n {
		select {
		case r := <-res:
			if r == nil || !r.Answered {
				t.Fatalf("a call was not answered: %+v", r)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("calls did not end within 60s")
		}
	}
	c1.until(30*time.Second, "every call ended", func() bool { return len(c1.ended) == n })
	var ids []string
	for id := range c1.answered {
		ids = append(ids, id)
	}
	if len(ids) != n {
		t.Fatalf("%d calls answered, want %d", len(ids), n)
	}
	// Every call's call.ended is in the outbox and has been tried (the
	// receiver answered 503): read the child's database.
	st, err := storeopen.Open(t.Context(), dbURL, store.Options{DefaultCountry: "VN", NoMigrate: true})
	must(t, err)
	defer st.Close()
	wh := st.(store.Webhooks)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) { // a bounded poll of another process's database
		ds, _, err := wh.ListWebhookDeliveries(t.Context(), store.WebhookFilter{}, store.Page{Limit: 200})
		must(t, err)
		ended, tried := 0, 0
		for _, d := range ds {
			if d.EventType == "call.ended" {
				ended++
			}
			if d.Attempts > 0 && d.LastStatus == http.StatusServiceUnavailable {
				tried++
			}
		}
		if ended == n && tried > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox: %d call.ended (want %d), %d tried against the down receiver", ended, n, tried)
		}
	}
	c1.kill() // SIGKILL: no drain, no last write
	rc.setDown(false)
	c2 := startChild(t, dir, dbURL, 2)
	evs := rc.wait(60*time.Second, "every call's call.ended", func(evs []webhook.Event) bool {
		ended := 0
		for _, e := range evs {
			if e.Type == "call.ended" {
				ended++
			}
		}
		return ended == n
	})
	for _, id := range ids {
		var order []string
		for _, e := range ofCall(evs, id) {
			if strings.HasPrefix(e.Type, "call.") {
				order = append(order, e.Type)
			}
		}
		if strings.Join(order, " ") != "call.started call.answered call.ended" {
			t.Errorf("call %s: %v, want call.started call.answered call.ended", id, order)
		}
	}
	// One id per event: the same (type, call) never came under two ids
	// (a duplicate the receiver could not recognise).
	byKey := map[string]string{}
	for _, e := range evs {
		k := e.Type + " " + e.CallID
		if other, ok := byKey[k]; ok && e.CallID != "" {
			t.Errorf("%s delivered as %s and as %s", k, other, e.ID)
		}
		byKey[k] = e.ID
	}
	rc.mu.Lock()
	if len(rc.bad) > 0 {
		t.Errorf("deliveries refused by the receiver's verification: %v", rc.bad)
	}
	rc.mu.Unlock()
	c2.stop()
}
