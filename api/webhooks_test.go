package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/api"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/webhook"
)

func TestWebhookAPI(t *testing.T) {
	for name, open := range map[string]func(*testing.T) store.Store{"sqlite": openSQLite, "postgres": openPostgres} {
		t.Run(name, func(t *testing.T) { testWebhookAPI(t, open(t)) })
	}
}

func testWebhookAPI(t *testing.T, st store.Store) {
	var up atomic.Bool
	var got atomic.Int32
	fileSecret := strings.Repeat("f", 32)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		got.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer rc.Close()
	svc, err := webhook.New(webhook.Config{Store: func(context.Context) (store.Webhooks, error) { return st.(store.Webhooks), nil },
		// No retries: the first failure is the dead letter.
		Delivery: config.WebhookDelivery{Retry: time.Nanosecond, Timeout: 2 * time.Second, AllowNetworks: []string{"127.0.0.0/8"}},
		File:     map[string]config.Webhook{"desk": {URL: rc.URL, Secret: fileSecret, Events: []string{"call.ended"}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	e := newEnvWith(t, st, func(c *api.Config) { c.Webhooks = svc })

	// Reads need write scope too.
	if r := e.do("GET", "/api/v1/webhooks", readToken, nil); r.status != http.StatusForbidden {
		t.Errorf("read token: %d %s", r.status, r.body)
	}
	var created struct {
		webhook.Subscription
		Secret string `json:"secret"`
	}
	r := e.must(201, "POST", "/api/v1/webhooks", map[string]any{"url": rc.URL + "/api", "events": []string{"ticket.created"}}, &created)
	if !strings.HasPrefix(created.ID, "wh_") || len(created.Secret) < 32 || created.Source != "api" || r.header.Get("Location") != "/api/v1/webhooks/"+created.ID {
		t.Fatalf("created %+v (Location %q)", created, r.header.Get("Location"))
	}
	for _, path := range []string{"/api/v1/webhooks", "/api/v1/webhooks/" + created.ID, "/api/v1/webhooks/desk"} {
		r := e.must(200, "GET", path, nil, nil)
		if strings.Contains(string(r.body), created.Secret) || strings.Contains(string(r.body), fileSecret) || strings.Contains(string(r.body), "secret") {
			t.Errorf("GET %s shows a secret: %s", path, r.body)
		}
	}
	var list struct{ Items []webhook.Subscription }
	e.must(200, "GET", "/api/v1/webhooks", nil, &list)
	if len(list.Items) != 2 {
		t.Errorf("list %+v, want desk and %s", list.Items, created.ID)
	}
	var upd webhook.Subscription
	e.must(200, "PUT", "/api/v1/webhooks/"+created.ID, map[string]any{"url": rc.URL + "/v2", "events": []string{"*"}}, &upd)
	if upd.URL != rc.URL+"/v2" {
		t.Errorf("updated %+v", upd)
	}
	checkField := func(r resp, status int, field string) {
		t.Helper()
		if r.status != status {
			t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
		}
		if field != "" {
			if e := decodeErr(t, r); e.Error.Field != field {
				t.Errorf("field %q, want %q: %s", e.Error.Field, field, r.body)
			}
		}
	}
	checkField(e.do("POST", "/api/v1/webhooks", writeToken, map[string]any{"url": "ftp://x"}), 422, "url")
	checkField(e.do("POST", "/api/v1/webhooks", writeToken, map[string]any{"url": rc.URL, "secret": "short"}), 422, "secret")
	checkField(e.do("POST", "/api/v1/webhooks", writeToken, map[string]any{"url": rc.URL, "events": []string{"nope"}}), 422, "events")
	// Internal destinations are refused (SSRF), the allow-list aside (127.0.0.0/8 here).
	for _, u := range []string{"http://10.1.2.3/hook", "http://169.254.169.254/latest/meta-data", "http://[::1]:8080/", "http://[fd00::1]/", "http://0.0.0.0:80/"} {
		r := e.do("POST", "/api/v1/webhooks", writeToken, map[string]any{"url": u})
		checkField(r, 422, "url")
		if !strings.Contains(string(r.body), "webhook_delivery.allow_networks") {
			t.Errorf("POST %s: %s; want the error to name webhook_delivery.allow_networks", u, r.body)
		}
	}
	checkField(e.do("PUT", "/api/v1/webhooks/"+created.ID, writeToken, map[string]any{"url": "http://192.168.1.1/"}), 422, "url")
	checkField(e.do("PUT", "/api/v1/webhooks/desk", writeToken, map[string]any{"url": rc.URL}), 409, "")
	checkField(e.do("DELETE", "/api/v1/webhooks/desk", writeToken, nil), 409, "")
	checkField(e.do("GET", "/api/v1/webhooks/wh_nope", writeToken, nil), 404, "")
	e.must(204, "DELETE", "/api/v1/webhooks/"+created.ID, nil, nil)
	checkField(e.do("DELETE", "/api/v1/webhooks/"+created.ID, writeToken, nil), 404, "")

	// The receiver is down and there is no retry: the dead letter, visible
	// and replayable.
	if err := svc.Enqueue(t.Context(), webhook.Event{ID: "evt_x", Type: "call.ended", Created: time.Now(), Data: json.RawMessage(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	if n, err := svc.Step(t.Context()); n != 1 || err != nil {
		t.Fatalf("Step %d %v", n, err)
	}
	var dead struct {
		Items []struct {
			ID        int64           `json:"id"`
			State     string          `json:"state"`
			EventID   string          `json:"event_id"`
			LastError string          `json:"last_error"`
			Event     json.RawMessage `json:"event"`
		}
	}
	e.must(200, "GET", "/api/v1/webhooks/deliveries?state=dead", nil, &dead)
	if len(dead.Items) != 1 || dead.Items[0].EventID != "evt_x" || !strings.Contains(dead.Items[0].LastError, "503") ||
		!strings.Contains(string(dead.Items[0].Event), `"data":{"a":1}`) {
		t.Fatalf("dead letters %+v", dead.Items)
	}
	checkField(e.do("GET", "/api/v1/webhooks/deliveries?state=lost", writeToken, nil), 422, "state")
	up.Store(true)
	e.must(200, "POST", fmt.Sprintf("/api/v1/webhooks/deliveries/%d/replay", dead.Items[0].ID), nil, nil)
	if n, err := svc.Step(t.Context()); n != 1 || err != nil {
		t.Fatalf("Step after replay %d %v", n, err)
	}
	var one struct{ State string }
	e.must(200, "GET", fmt.Sprintf("/api/v1/webhooks/deliveries/%d", dead.Items[0].ID), nil, &one)
	if one.State != "delivered" || got.Load() != 1 {
		t.Errorf("after replay: %s, receiver got %d", one.State, got.Load())
	}
	checkField(e.do("POST", "/api/v1/webhooks/deliveries/99999/replay", writeToken, nil), 404, "")
}
