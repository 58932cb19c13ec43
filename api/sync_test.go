package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
)

type syncPage[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// TestSyncHTTP: the polling recipe of docs/api.md on both stores: a first
// page with updated_since, then the cursor alone; a change comes again;
// caught up, the same cursor; unknown parameters are 400, bad times 422.
func TestSyncHTTP(t *testing.T) {
	onBothStores(t, func(t *testing.T, e *env) {
		since := time.Now().UTC().Add(-time.Second).Format(time.RFC3339Nano)
		c := e.customer(map[string]any{"name": "Sync", "phones": []string{"0913000001"}})
		var tks []store.Ticket
		for k := range 3 {
			tks = append(tks, e.ticket(map[string]any{"customer_id": c.ID, "subject": fmt.Sprintf("s%d", k)}))
		}
		seen := map[int64]int{}
		cursor := ""
		poll := func(want int) {
			t.Helper()
			deadline := time.Now().Add(30 * time.Second)
			got := 0
			for {
				path := "/api/v1/tickets?limit=2&updated_since=" + url.QueryEscape(since)
				if cursor != "" {
					path = "/api/v1/tickets?limit=2&cursor=" + cursor
				}
				var p syncPage[store.Ticket]
				e.must(http.StatusOK, "GET", path, nil, &p)
				if p.NextCursor == "" {
					t.Fatal("a sync page without next_cursor")
				}
				cursor = p.NextCursor
				for _, tk := range p.Items {
					seen[tk.ID]++
				}
				got += len(p.Items)
				if got >= want && len(p.Items) < 2 {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("synced %d of %d", got, want)
				}
				if len(p.Items) == 0 {
					<-time.After(5 * time.Millisecond) // PostgreSQL: rows join below the oldest running transaction
				}
			}
		}
		poll(3)
		for _, tk := range tks {
			if seen[tk.ID] != 1 {
				t.Fatalf("ticket %d synced %d times: %v", tk.ID, seen[tk.ID], seen)
			}
		}
		e.must(http.StatusOK, "PATCH", fmt.Sprintf("/api/v1/tickets/%d", tks[1].ID), map[string]any{"status": "pending"}, nil)
		poll(1)
		if seen[tks[1].ID] != 2 || seen[tks[0].ID] != 1 || seen[tks[2].ID] != 1 {
			t.Fatalf("after one change: %v", seen)
		}

		checkErrors(t, e, []errorCase{
			{name: "typo", method: "GET", path: "/api/v1/tickets?updated_snice=2026-01-01T00:00:00Z", status: 400, code: "unknown_parameter", field: "updated_snice"},
			{name: "customers", method: "GET", path: "/api/v1/customers?sort=name", status: 400, code: "unknown_parameter", field: "sort"},
			{name: "interactions", method: "GET", path: "/api/v1/interactions?since=1", status: 400, code: "unknown_parameter", field: "since"},
			{name: "bad_time", method: "GET", path: "/api/v1/interactions?created_since=yesterday", status: 422, code: "invalid", field: "created_since"},
			{name: "plain_cursor", method: "GET", path: "/api/v1/customers?updated_since=2026-01-01T00:00:00Z&cursor=" + plainCursor(t, e), status: 422, code: "invalid", field: "cursor"},
		})
	})
}

func plainCursor(t *testing.T, e *env) string {
	t.Helper()
	e.customer(map[string]any{"name": "Second"})
	var p syncPage[store.Customer]
	e.must(http.StatusOK, "GET", "/api/v1/customers?limit=1", nil, &p)
	if p.NextCursor == "" {
		t.Fatal("no next page of two customers")
	}
	return p.NextCursor
}

// TestIfMatchRace: every resource answers an ETag; a stale If-Match is
// 412 with the current ETag; of N concurrent PATCHes with one ETag exactly
// one wins.
func TestIfMatchRace(t *testing.T) {
	onBothStores(t, func(t *testing.T, e *env) {
		c := e.customer(map[string]any{"name": "Race"})
		r := e.do("GET", fmt.Sprintf("/api/v1/customers/%d", c.ID), writeToken, nil)
		tag := r.header.Get("ETag")
		if r.status != 200 || tag == "" {
			t.Fatalf("GET customer: %d, ETag %q", r.status, tag)
		}
		const n = 16
		var wg sync.WaitGroup
		statuses := make(chan int, n)
		for k := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.doWith("PATCH", fmt.Sprintf("/api/v1/customers/%d", c.ID), writeToken,
					map[string]any{"name": fmt.Sprintf("Racer %d", k)}, map[string]string{"If-Match": tag})
				statuses <- r.status
			}()
		}
		wg.Wait()
		close(statuses)
		count := map[int]int{}
		for s := range statuses {
			count[s]++
		}
		if count[200] != 1 || count[412] != n-1 {
			t.Fatalf("statuses %v, want one 200 and %d 412", count, n-1)
		}
		now := e.do("GET", fmt.Sprintf("/api/v1/customers/%d", c.ID), writeToken, nil)
		stale := e.doWith("PATCH", fmt.Sprintf("/api/v1/customers/%d", c.ID), writeToken, map[string]any{"name": "late"}, map[string]string{"If-Match": tag})
		if stale.status != 412 || stale.header.Get("ETag") != now.header.Get("ETag") || decodeErr(t, stale).Error.Field != "If-Match" {
			t.Fatalf("stale PATCH: %d ETag %q (now %q) %s", stale.status, stale.header.Get("ETag"), now.header.Get("ETag"), stale.body)
		}

		tk := e.ticket(map[string]any{"customer_id": c.ID, "subject": "etag"})
		r = e.do("GET", fmt.Sprintf("/api/v1/tickets/%d", tk.ID), writeToken, nil)
		ok := e.doWith("PATCH", fmt.Sprintf("/api/v1/tickets/%d", tk.ID), writeToken, map[string]any{"status": "solved"}, map[string]string{"If-Match": r.header.Get("ETag")})
		if ok.status != 200 || ok.header.Get("ETag") == "" || ok.header.Get("ETag") == r.header.Get("ETag") {
			t.Fatalf("PATCH ticket: %d, ETag %q after %q", ok.status, ok.header.Get("ETag"), r.header.Get("ETag"))
		}
		again := e.doWith("PATCH", fmt.Sprintf("/api/v1/tickets/%d", tk.ID), writeToken, map[string]any{"status": "open"}, map[string]string{"If-Match": r.header.Get("ETag")})
		if again.status != 412 {
			t.Fatalf("stale ticket PATCH: %d %s", again.status, again.body)
		}
		in := e.do("POST", "/api/v1/interactions", writeToken, map[string]any{"customer_id": c.ID, "channel": "email", "summary": "x"})
		if in.status != 201 || in.header.Get("ETag") == "" {
			t.Fatalf("POST interaction: %d ETag %q", in.status, in.header.Get("ETag"))
		}
	})
}

// TestIdempotencyRace: many clients POST one interaction with one key at
// once: it is stored once; every answer is that 201 (the first, or its
// replay) or a 409 while it ran; a retry afterwards replays it; the key
// with another body is 422.
func TestIdempotencyRace(t *testing.T) {
	onBothStores(t, func(t *testing.T, e *env) {
		c := e.customer(map[string]any{"name": "Idem"})
		body := fmt.Sprintf(`{"customer_id": %d, "channel": "email", "summary": "retried email"}`, c.ID)
		key := map[string]string{"Idempotency-Key": "mail-4711"}
		const n = 20
		var wg sync.WaitGroup
		answers := make(chan resp, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				answers <- e.doWith("POST", "/api/v1/interactions", writeToken, body, key)
			}()
		}
		wg.Wait()
		close(answers)
		var created []resp
		for a := range answers {
			switch a.status {
			case 201:
				created = append(created, a)
			case 409:
				if decodeErr(t, a).Error.Field != "Idempotency-Key" || a.header.Get("Retry-After") == "" {
					t.Fatalf("409: %s (Retry-After %q)", a.body, a.header.Get("Retry-After"))
				}
			default:
				t.Fatalf("status %d: %s", a.status, a.body)
			}
		}
		if len(created) == 0 {
			t.Fatal("no request got its 201")
		}
		final := e.doWith("POST", "/api/v1/interactions", writeToken, body, key)
		if final.status != 201 || final.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry: %d replayed %q", final.status, final.header.Get("Idempotent-Replayed"))
		}
		for _, a := range append(created, final) {
			if string(a.body) != string(created[0].body) || a.header.Get("Location") != created[0].header.Get("Location") ||
				a.header.Get("ETag") != created[0].header.Get("ETag") {
				t.Fatalf("answers differ:\n%s %s\n%s %s", a.body, a.header.Get("Location"), created[0].body, created[0].header.Get("Location"))
			}
		}
		var list syncPage[store.Interaction]
		e.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/interactions?customer_id=%d", c.ID), nil, &list)
		if len(list.Items) != 1 {
			t.Fatalf("%d interactions stored for one key", len(list.Items))
		}
		other := e.doWith("POST", "/api/v1/interactions", writeToken, `{"customer_id": `+fmt.Sprint(c.ID)+`, "channel": "chat"}`, key)
		if other.status != 422 || decodeErr(t, other).Error.Field != "Idempotency-Key" {
			t.Fatalf("same key, other body: %d %s", other.status, other.body)
		}
		errorGolden(t, "idempotency_key_reused", fmt.Sprintf("%d %s\n%s", other.status, http.StatusText(other.status), other.body))
		// Another token's key of the same name is its own.
		if r := e.doWith("POST", "/api/v1/interactions", writeToken, body, map[string]string{"Idempotency-Key": "mail-4712"}); r.status != 201 ||
			r.header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("new key: %d", r.status)
		}
		if r := e.doWith("POST", "/api/v1/interactions", writeToken, body, map[string]string{"Idempotency-Key": "bad key"}); r.status != 422 {
			t.Fatalf("a key with a space: %d", r.status)
		}
	})
}
