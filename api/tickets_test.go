package api_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
)

type list[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

func TestTicketLifecycle(t *testing.T) { onBothStores(t, testTicketLifecycle) }

func testTicketLifecycle(t *testing.T, e *env) {
	c := e.customer(map[string]any{"name": "An", "emails": []string{"an@example.vn"}})
	tk := e.ticket(map[string]any{"customer_id": c.ID, "subject": "Đơn hàng chưa tới", "category": "shipping",
		"tags": []string{"email"}, "channel": "email"})
	if tk.Status != store.StatusOpen || tk.Priority != "normal" || tk.CustomerID != c.ID || tk.Channel != "email" {
		t.Fatalf("created %+v", tk)
	}
	var patched store.Ticket
	e.must(http.StatusOK, "PATCH", fmt.Sprintf("/api/v1/tickets/%d", tk.ID),
		map[string]any{"status": "pending", "assignee": "lan", "priority": "high"}, &patched)
	if patched.Status != "pending" || patched.Assignee != "lan" || patched.Priority != "high" || patched.Subject != tk.Subject {
		t.Fatalf("patched %+v", patched)
	}
	var got list[store.Ticket]
	e.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/tickets?customer_id=%d&status=pending", c.ID), nil, &got)
	if len(got.Items) != 1 || got.Items[0].ID != tk.ID {
		t.Fatalf("list %+v", got)
	}
	e.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/tickets?customer_id=%d&status=open", c.ID), nil, &got)
	if len(got.Items) != 0 || got.Items == nil {
		t.Fatalf("want an empty (not null) list, got %+v", got)
	}
}

func TestTicketErrors(t *testing.T) { onBothStores(t, testTicketErrors) }

func testTicketErrors(t *testing.T, e *env) {
	c := e.customer(map[string]any{"name": "An"})
	tk := e.ticket(map[string]any{"customer_id": c.ID, "subject": "Help"})
	other := e.customer(map[string]any{"name": "Bình"})
	checkErrors(t, e, []errorCase{
		{"no customer", "POST", "/api/v1/tickets", `{"subject":"x"}`, 422, "invalid", "customer_id"},
		{"unknown customer", "POST", "/api/v1/tickets", `{"customer_id":987654,"subject":"s"}`, 422, "invalid", "customer_id"},
		{"no subject", "POST", "/api/v1/tickets", fmt.Sprintf(`{"customer_id":%d,"subject":"  "}`, c.ID), 422, "invalid", "subject"},
		{"bad status", "POST", "/api/v1/tickets", fmt.Sprintf(`{"customer_id":%d,"subject":"s","status":"done"}`, c.ID), 422, "invalid", "status"},
		{"bad priority", "PATCH", fmt.Sprintf("/api/v1/tickets/%d", tk.ID), `{"priority":"meh"}`, 422, "invalid", "priority"},
		{"bad channel", "POST", "/api/v1/tickets", fmt.Sprintf(`{"customer_id":%d,"subject":"s","channel":"fax"}`, c.ID), 422, "invalid", "channel"},
		{"empty tag", "POST", "/api/v1/tickets", fmt.Sprintf(`{"customer_id":%d,"subject":"s","tags":[" "]}`, c.ID), 422, "invalid", "tags[0]"},
		{"move customer", "PATCH", fmt.Sprintf("/api/v1/tickets/%d", tk.ID), fmt.Sprintf(`{"customer_id":%d}`, other.ID), 422, "invalid", "customer_id"},
		{"channel not patchable", "PATCH", fmt.Sprintf("/api/v1/tickets/%d", tk.ID), `{"channel":"chat"}`, 400, "unknown_field", "channel"},
		{"missing", "GET", "/api/v1/tickets/424242", "", 404, "not_found", ""},
		{"list bad customer id", "GET", "/api/v1/tickets?customer_id=x", "", 422, "invalid", "customer_id"},
		{"list bad status", "GET", "/api/v1/tickets?status=done", "", 422, "invalid", "status"},
		{"list bad cursor", "GET", "/api/v1/tickets?cursor=bm9wZQ", "", 422, "invalid", "cursor"},
	})
}

// TestEmailAndChatScenario is what docs/api.md shows: an email system adds
// an inbound email to a customer's ticket; a chat system looks the customer
// up by phone and reads the timeline across channels, newest first.
func TestEmailAndChatScenario(t *testing.T) { onBothStores(t, testEmailAndChatScenario) }

func testEmailAndChatScenario(t *testing.T, e *env) {
	c := e.customer(map[string]any{"name": "Trần Thị Bình", "phones": []string{"0903 123 456"}, "emails": []string{"binh@example.vn"}})
	tk := e.ticket(map[string]any{"customer_id": c.ID, "subject": "Hoàn tiền", "category": "billing", "channel": "email"})

	base := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	var email store.Interaction
	e.must(http.StatusCreated, "POST", fmt.Sprintf("/api/v1/tickets/%d/interactions", tk.ID), map[string]any{
		"channel": "email", "direction": "inbound", "started_at": base.Format(time.RFC3339),
		"summary": "Re: Hoàn tiền", "body": "Tôi chưa nhận được tiền hoàn.",
		"details": map[string]any{"message_id": "<abc@mail.example.vn>", "from": "binh@example.vn"},
	}, &email)
	if email.TicketID != tk.ID || email.CustomerID != c.ID || string(email.Details) == "" {
		t.Fatalf("email interaction %+v", email)
	}
	var chat store.Interaction
	e.must(http.StatusCreated, "POST", "/api/v1/interactions", map[string]any{
		"ticket_id": tk.ID, "channel": "chat", "direction": "inbound",
		"started_at": base.Add(time.Hour).Format(time.RFC3339), "ended_at": base.Add(70 * time.Minute).Format(time.RFC3339),
		"summary": "chat about refund",
	}, &chat)
	if chat.CustomerID != c.ID {
		t.Fatalf("chat interaction did not take the ticket's customer: %+v", chat)
	}
	var noTicket store.Interaction
	e.must(http.StatusCreated, "POST", "/api/v1/interactions", map[string]any{
		"customer_id": c.ID, "channel": "sms", "direction": "outbound", "started_at": base.Add(2 * time.Hour).Format(time.RFC3339),
	}, &noTicket)

	var found store.Customer
	e.must(http.StatusOK, "GET", "/api/v1/customers/lookup?phone=0903123456", nil, &found)
	if found.ID != c.ID {
		t.Fatalf("lookup found %d, want %d", found.ID, c.ID)
	}
	var ids []int64
	cursor := ""
	for range 5 {
		var page list[store.Interaction]
		e.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/customers/%d/timeline?limit=2&cursor=%s", c.ID, cursor), nil, &page)
		for _, i := range page.Items {
			ids = append(ids, i.ID)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	want := []int64{noTicket.ID, chat.ID, email.ID}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("timeline %v, want newest first %v", ids, want)
	}
	var byTicket list[store.Interaction]
	e.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/interactions?ticket_id=%d&channel=email", tk.ID), nil, &byTicket)
	if len(byTicket.Items) != 1 || byTicket.Items[0].ID != email.ID {
		t.Fatalf("interactions by ticket and channel: %+v", byTicket)
	}
	var one store.Interaction
	e.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/interactions/%d", email.ID), nil, &one)
	if one.Body != "Tôi chưa nhận được tiền hoàn." || !one.StartedAt.Equal(base) {
		t.Fatalf("interaction read back %+v", one)
	}
}
