package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/api"
	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/callback/callbacktest"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/outbound"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/store"
)

// cbEnv is the API with a callback scheduler on the same store and bus.
type cbEnv struct {
	*env
	s      *callback.Scheduler
	acd    *callbacktest.ACD
	dialer *callbacktest.Dialer
	sub    *events.Subscription
}

// An hour on Mondays only, so that any Sunday is outside it.
var mondayHour = config.Calendar{TimeZone: "UTC", Hours: map[string][]string{"mon": {"08:00-09:00"}}}

func newCallbackEnv(t *testing.T, st store.Store, limits config.Callbacks, more ...func(*api.Config)) *cbEnv {
	t.Helper()
	on := config.QueueCallback{Enabled: true, MaxAttempts: 2}
	hours := config.QueueCallback{Enabled: true, Calendar: "monday"}
	queues := map[string]config.Queue{
		"technical": {Callback: on.WithDefaults()},
		"sales":     {Callback: on.WithDefaults()},
		"monday":    {Callback: hours.WithDefaults()},
		"closed":    {},
	}
	pol, err := outbound.New(outbound.Config{Allow: config.Allow{Numbers: []string{"+849*"}}, DefaultCountry: "VN"})
	if err != nil {
		t.Fatal(err)
	}
	bus := events.NewBus()
	sub := bus.Subscribe(1000)
	t.Cleanup(sub.Close)
	acd, dialer := callbacktest.NewACD(), callbacktest.NewDialer(100)
	s, err := callback.New(callback.Config{Store: st.(store.Callbacks), Queues: queues, Calendars: map[string]config.Calendar{"monday": mondayHour},
		Limits: limits, Policy: pol, ACD: acd, Dialer: dialer, Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	run := make(chan error, 1)
	go func() { run <- s.Run(context.Background()) }()
	t.Cleanup(func() {
		_ = s.Close()
		if err := <-run; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-s.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("scheduler not ready")
	}
	e := newEnvWith(t, st, func(c *api.Config) {
		c.Callbacks, c.Bus = s, bus
		for _, f := range more {
			f(c)
		}
	})
	return &cbEnv{env: e, s: s, acd: acd, dialer: dialer, sub: sub}
}

func noLimits() config.Callbacks { return config.Callbacks{PerNumber: -1, PerSource: -1, Total: -1} }

func (e *cbEnv) request(body any) (callback.Callback, resp) {
	e.t.Helper()
	var cb callback.Callback
	r := e.must(http.StatusCreated, "POST", "/api/v1/callbacks", body, &cb)
	return cb, r
}

func etag(v int64) string { return `"` + strconv.FormatInt(v, 10) + `"` }

// TestCallbackAPI: request, show, list, reschedule and cancel over HTTP
// on both stores, with the versions as ETags.
func TestCallbackAPI(t *testing.T) {
	onBothStores(t, func(t *testing.T, base *env) {
		e := newCallbackEnv(t, base.store, noLimits())
		c := e.customer(map[string]any{"name": "Lan", "phones": []string{"0912345678"}})
		cb, r := e.request(map[string]any{"number": "0912 345 678", "queue": "technical", "customer_id": c.ID, "note": "from the web site"})
		if cb.ID == 0 || cb.Number != "+84912345678" || cb.Status != callback.StatusWaiting || cb.Source != store.SourceAPI ||
			cb.CustomerID != c.ID || cb.TicketID == 0 || cb.Version != 1 {
			t.Fatalf("created: %+v", cb)
		}
		if r.header.Get("Location") != fmt.Sprintf("/api/v1/callbacks/%d", cb.ID) || r.header.Get("ETag") != etag(1) {
			t.Fatalf("Location %q ETag %q", r.header.Get("Location"), r.header.Get("ETag"))
		}
		// The request is on the ticket.
		var story struct{ Items []store.Interaction }
		e.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/interactions?ticket_id=%d", cb.TicketID), nil, &story)
		if len(story.Items) != 1 || !strings.Contains(story.Items[0].Summary, "from the web site") {
			t.Fatalf("ticket story: %+v", story.Items)
		}

		// The ACD dials it: GET shows the call.
		if _, _, err := e.acd.DialHead(context.Background(), e.s, "technical", 1); err != nil {
			t.Fatal(err)
		}
		call := <-e.dialer.Calls
		var got callback.Callback
		r = e.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/callbacks/%d", cb.ID), nil, &got)
		if got.Status != callback.Status(store.CallbackDialling) || len(got.Calls) != 1 || got.Calls[0].CallID != call.Req.CallID || r.header.Get("ETag") != etag(2) {
			t.Fatalf("while dialling: %+v (ETag %s)", got, r.header.Get("ETag"))
		}
		rr := e.doWith("POST", fmt.Sprintf("/api/v1/callbacks/%d/cancel", cb.ID), writeToken, nil, nil)
		if rr.status != http.StatusConflict || decodeErr(t, rr).Error.Field != "state" {
			t.Fatalf("cancel while dialling: %d %s", rr.status, rr.body)
		}
		call.End(callback.Result{Result: store.AttemptNoAnswer, SIPStatus: 480})
		e.waitEvent(cb.ID, callback.EventScheduled) // the outcome is written on the call's goroutine
		var after callback.Callback
		e.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/callbacks/%d", cb.ID), nil, &after)
		if after.Attempts != 1 || after.Status != callback.StatusScheduled {
			t.Fatalf("after no answer: %+v", after)
		}

		// Reschedule: a stale version is 412 with the current ETag.
		rr = e.doWith("PATCH", fmt.Sprintf("/api/v1/callbacks/%d", cb.ID), writeToken, map[string]any{"at": time.Now().Add(time.Hour).Format(time.RFC3339)},
			map[string]string{"If-Match": etag(1)})
		if rr.status != http.StatusPreconditionFailed || rr.header.Get("ETag") != etag(after.Version) || decodeErr(t, rr).Error.Code != "precondition_failed" {
			t.Fatalf("stale reschedule: %d %s (ETag %s)", rr.status, rr.body, rr.header.Get("ETag"))
		}
		when := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
		var moved callback.Callback
		rr = e.doWith("PATCH", fmt.Sprintf("/api/v1/callbacks/%d", cb.ID), writeToken, map[string]any{"at": when.Format(time.RFC3339)},
			map[string]string{"If-Match": etag(after.Version)})
		if rr.status != http.StatusOK || json.Unmarshal(rr.body, &moved) != nil || !moved.NotBefore.Equal(when) || moved.Version != after.Version+1 ||
			moved.Status != callback.StatusScheduled || rr.header.Get("ETag") != etag(moved.Version) {
			t.Fatalf("reschedule: %d %s", rr.status, rr.body)
		}

		// List: filters and pages.
		for i := range 3 {
			e.request(map[string]any{"number": fmt.Sprintf("+8491200000%d", i), "queue": "sales"})
		}
		var page struct {
			Items      []callback.Callback `json:"items"`
			NextCursor string              `json:"next_cursor"`
		}
		e.must(http.StatusOK, "GET", "/api/v1/callbacks?queue=sales&state=waiting&limit=2", nil, &page)
		if len(page.Items) != 2 || page.NextCursor == "" || page.Items[0].Queue != "sales" || page.Items[0].ID < page.Items[1].ID {
			t.Fatalf("first page: %+v", page)
		}
		e.must(http.StatusOK, "GET", "/api/v1/callbacks?queue=sales&state=waiting&limit=2&cursor="+page.NextCursor, nil, &page)
		if len(page.Items) != 1 || page.NextCursor != "" {
			t.Fatalf("second page: %+v", page)
		}
		e.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/callbacks?customer_id=%d&state=open", c.ID), nil, &page)
		if len(page.Items) != 1 || page.Items[0].ID != cb.ID {
			t.Fatalf("by customer: %+v", page)
		}

		// Cancel with the current version; then it is over.
		var gone callback.Callback
		rr = e.doWith("POST", fmt.Sprintf("/api/v1/callbacks/%d/cancel", cb.ID), writeToken, nil, map[string]string{"If-Match": etag(moved.Version)})
		if rr.status != http.StatusOK || json.Unmarshal(rr.body, &gone) != nil || gone.State != store.CallbackCancelled {
			t.Fatalf("cancel: %d %s", rr.status, rr.body)
		}
		rr = e.do("POST", fmt.Sprintf("/api/v1/callbacks/%d/cancel", cb.ID), writeToken, nil)
		if rr.status != http.StatusConflict {
			t.Fatalf("cancel again: %d %s", rr.status, rr.body)
		}
		e.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/interactions?ticket_id=%d", cb.TicketID), nil, &story)
		if n := len(story.Items); n != 4 { // requested, the call, rescheduled, cancelled
			t.Fatalf("ticket story after cancel: %d interactions", n)
		}
	})
}

// waitEvent waits for callback id's event of type typ.
func (e *cbEnv) waitEvent(id int64, typ string) {
	e.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-e.sub.C:
			if c, ok := ev.Payload.(callback.Change); ok && c.ID == id && ev.Type == typ {
				return
			}
		case <-deadline:
			e.t.Fatalf("no %s event for callback %d", typ, id)
		}
	}
}

// TestCallbackDuplicate: 409 with the existing request, its ETag and
// Location; another queue is another callback.
func TestCallbackDuplicate(t *testing.T) {
	e := newCallbackEnv(t, openSQLite(t), noLimits())
	first, _ := e.request(map[string]any{"number": "+84912000100", "queue": "technical"})
	r := e.do("POST", "/api/v1/callbacks", writeToken, map[string]any{"number": "0912 000 100", "queue": "technical"})
	var body struct {
		Error    struct{ Code, Field, Message string } `json:"error"`
		Existing callback.Callback                     `json:"existing"`
	}
	if r.status != http.StatusConflict || json.Unmarshal(r.body, &body) != nil || body.Error.Code != "conflict" || body.Error.Field != "number" ||
		body.Existing.ID != first.ID || body.Existing.Position != 1 || body.Existing.Status != callback.StatusWaiting {
		t.Fatalf("duplicate: %d %s", r.status, r.body)
	}
	if r.header.Get("Location") != fmt.Sprintf("/api/v1/callbacks/%d", first.ID) || r.header.Get("ETag") != etag(first.Version) {
		t.Fatalf("duplicate headers: %v", r.header)
	}
	if other, _ := e.request(map[string]any{"number": "+84912000100", "queue": "sales"}); other.ID == first.ID {
		t.Fatal("another queue is another callback")
	}
}

// TestCallbackFlood: a flood of requests for many numbers from one token
// and address is refused past its bound, with Retry-After; a number gets
// three requests an hour.
func TestCallbackFlood(t *testing.T) {
	e := newCallbackEnv(t, openSQLite(t), config.Callbacks{PerNumber: 3, PerSource: 10, Total: 1000})
	refused := 0
	for i := range 30 {
		r := e.do("POST", "/api/v1/callbacks", writeToken, map[string]any{"number": fmt.Sprintf("+849120002%02d", i), "queue": "technical"})
		switch r.status {
		case http.StatusCreated:
		case http.StatusTooManyRequests:
			refused++
			if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 60 {
				t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
			}
		default:
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	if refused != 20 {
		t.Fatalf("%d of 30 refused, want 20 past the bound of 10 per source", refused)
	}
	var page struct{ Items []callback.Callback }
	e.must(http.StatusOK, "GET", "/api/v1/callbacks?limit=100", nil, &page)
	if len(page.Items) != 10 {
		t.Fatalf("%d callbacks stored", len(page.Items))
	}
}

// TestCallbackErrorsGolden pins the error bodies of the callback routes.
func TestCallbackErrorsGolden(t *testing.T) {
	e := newCallbackEnv(t, openSQLite(t), config.Callbacks{PerNumber: 1, PerSource: -1, Total: -1})
	e.request(map[string]any{"number": "+84912000300", "queue": "technical"})
	var second callback.Callback
	e.must(http.StatusCreated, "POST", "/api/v1/callbacks", map[string]any{"number": "+84912000301", "queue": "technical"}, &second)
	noService := newEnv(t)
	tests := []struct {
		name, method, path, token string
		body                      any
		header                    map[string]string
		on                        *env
	}{
		{name: "callback_number_missing", method: "POST", path: "/api/v1/callbacks", body: `{"queue": "technical"}`},
		{name: "callback_number_invalid", method: "POST", path: "/api/v1/callbacks", body: `{"number": "call me", "queue": "technical"}`},
		{name: "callback_number_refused", method: "POST", path: "/api/v1/callbacks", body: `{"number": "+1 900 555 0100", "queue": "technical"}`},
		{name: "callback_queue_unknown", method: "POST", path: "/api/v1/callbacks", body: `{"number": "+84912000302", "queue": "nowhere"}`},
		{name: "callback_queue_disabled", method: "POST", path: "/api/v1/callbacks", body: `{"number": "+84912000302", "queue": "closed"}`},
		{name: "callback_at_outside_hours", method: "POST", path: "/api/v1/callbacks", body: `{"number": "+84912000302", "queue": "monday", "at": "2099-01-04T12:00:00Z"}`},
		{name: "callback_at_not_a_time", method: "POST", path: "/api/v1/callbacks", body: `{"number": "+84912000302", "queue": "technical", "at": "tomorrow 10:00"}`},
		{name: "callback_at_past", method: "POST", path: "/api/v1/callbacks", body: `{"number": "+84912000302", "queue": "technical", "at": "2001-01-01T10:00:00Z"}`},
		{name: "callback_customer_unknown", method: "POST", path: "/api/v1/callbacks", body: `{"number": "+84912000302", "queue": "technical", "customer_id": 4242}`},
		{name: "callback_unknown_field", method: "POST", path: "/api/v1/callbacks", body: `{"phone": "+84912000302", "queue": "technical"}`},
		{name: "callback_rate_limited", method: "POST", path: "/api/v1/callbacks", body: `{"number": "+84912000300", "queue": "sales"}`},
		{name: "callback_not_found", method: "GET", path: "/api/v1/callbacks/424242"},
		{name: "callback_state_filter", method: "GET", path: "/api/v1/callbacks?state=lost"},
		{name: "callback_stale_version", method: "POST", path: fmt.Sprintf("/api/v1/callbacks/%d/cancel", second.ID), header: map[string]string{"If-Match": `"9"`}},
		{name: "callback_bad_if_match", method: "POST", path: fmt.Sprintf("/api/v1/callbacks/%d/cancel", second.ID), header: map[string]string{"If-Match": "version 2"}},
		{name: "callback_cancel_body", method: "POST", path: fmt.Sprintf("/api/v1/callbacks/%d/cancel", second.ID), body: `{"reason": "x"}`},
		{name: "callback_reschedule_no_time", method: "PATCH", path: fmt.Sprintf("/api/v1/callbacks/%d", second.ID), body: `{}`},
		{name: "callback_read_token", method: "POST", path: "/api/v1/callbacks", token: readToken, body: `{"number": "+84912000302", "queue": "technical"}`},
		{name: "callback_unavailable", method: "GET", path: "/api/v1/callbacks", on: noService},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			on := e.env
			if tt.on != nil {
				on = tt.on
			}
			token := tt.token
			if token == "" {
				token = writeToken
			}
			r := on.doWith(tt.method, tt.path, token, tt.body, tt.header)
			decodeErr(t, r)
			errorGolden(t, tt.name, fmt.Sprintf("%d %s\n%s", r.status, http.StatusText(r.status), r.body))
		})
	}
}

// TestCallbackEvents: a request is an event on the stream, with its typed
// payload as data.
func TestCallbackEvents(t *testing.T) {
	e := newCallbackEnv(t, openSQLite(t), noLimits())
	stream := e.openStream("?types=callback.")
	cb, _ := e.request(map[string]any{"number": "+84912000400", "queue": "technical"})
	for _, want := range []string{callback.EventRequested, callback.EventWaiting} {
		_, ev := stream.event()
		data, _ := json.Marshal(ev.Payload)
		var c callback.Change
		if ev.Type != want || json.Unmarshal(data, &c) != nil || c.ID != cb.ID || c.Number != "+84912000400" || c.Status != strings.TrimPrefix(want, "callback.") {
			t.Fatalf("event %s %s, want %s for callback %d", ev.Type, data, want, cb.ID)
		}
	}
}

// TestQueueViewCarriesCallbacks: a queue's view has its callbacks'
// figures (the wallboard's), live as a callback is requested; a queue
// without callbacks shows zeros under its name.
func TestQueueViewCarriesCallbacks(t *testing.T) {
	queues := map[string]config.Queue{"technical": {JoinEmpty: true}, "closed": {}}
	for n, q := range queues {
		queues[n] = q.WithDefaults()
	}
	acd := queue.New(queue.Config{Queues: queues, Ringer: holdRinger{}, Bus: events.NewBus()})
	e := newCallbackEnv(t, openSQLite(t), noLimits(), func(c *api.Config) { c.ACD = acd })
	type figures struct {
		Callbacks callback.Figures `json:"callbacks"`
	}
	get := func(name string) callback.Figures {
		t.Helper()
		var v figures
		e.must(http.StatusOK, "GET", "/api/v1/queues/"+name, nil, &v)
		return v.Callbacks
	}
	if f := get("technical"); f != (callback.Figures{Queue: "technical"}) {
		t.Fatalf("before any request: %+v", f)
	}
	cb, _ := e.request(map[string]any{"number": "+84912000100", "queue": "technical"})
	f := get("technical")
	if f.Waiting != 1 || f.Oldest == nil || f.Oldest.ID != cb.ID {
		t.Fatalf("with one waiting: %+v", f)
	}
	if f := get("closed"); f != (callback.Figures{Queue: "closed"}) {
		t.Fatalf("a queue without callbacks: %+v", f)
	}
	var list struct {
		Items []figures `json:"items"`
	}
	e.must(http.StatusOK, "GET", "/api/v1/queues", nil, &list)
	if len(list.Items) != 2 || list.Items[1].Callbacks.Waiting != 1 {
		t.Fatalf("list: %+v", list.Items)
	}
}
