package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/api"
	"github.com/hotline-dev/hotline/store"
)

func TestInteractionErrors(t *testing.T) { onBothStores(t, testInteractionErrors) }

func testInteractionErrors(t *testing.T, e *env) {
	c := e.customer(map[string]any{"name": "An"})
	c2 := e.customer(map[string]any{"name": "Bình"})
	tk := e.ticket(map[string]any{"customer_id": c.ID, "subject": "Help"})
	checkErrors(t, e, []errorCase{
		{"no links", "POST", "/api/v1/interactions", `{"channel":"email","direction":"inbound"}`, 422, "invalid", "customer_id"},
		{"bad channel", "POST", "/api/v1/interactions", fmt.Sprintf(`{"customer_id":%d,"channel":"fax","direction":"inbound"}`, c.ID), 422, "invalid", "channel"},
		{"bad direction", "POST", "/api/v1/interactions", fmt.Sprintf(`{"customer_id":%d,"channel":"chat","direction":"sideways"}`, c.ID), 422, "invalid", "direction"},
		{"bad time", "POST", "/api/v1/interactions", fmt.Sprintf(`{"customer_id":%d,"channel":"chat","direction":"inbound","started_at":"yesterday"}`, c.ID), 422, "invalid", "started_at"},
		{"ends before start", "POST", "/api/v1/interactions", fmt.Sprintf(`{"customer_id":%d,"channel":"chat","direction":"inbound","started_at":"2026-01-02T10:00:00Z","ended_at":"2026-01-02T09:00:00Z"}`, c.ID), 422, "invalid", "ended_at"},
		{"details not object", "POST", "/api/v1/interactions", fmt.Sprintf(`{"customer_id":%d,"channel":"chat","direction":"inbound","details":[1]}`, c.ID), 422, "invalid", "details"},
		{"voice on email", "POST", "/api/v1/interactions", fmt.Sprintf(`{"customer_id":%d,"channel":"email","direction":"inbound","voice":{"call_id":"x"}}`, c.ID), 422, "invalid", "voice"},
		{"unknown voice field", "POST", "/api/v1/interactions", fmt.Sprintf(`{"customer_id":%d,"channel":"voice","direction":"inbound","voice":{"callid":"x"}}`, c.ID), 400, "unknown_field", "callid"},
		{"unknown customer", "POST", "/api/v1/interactions", `{"customer_id":98765,"channel":"chat","direction":"inbound"}`, 422, "invalid", "customer_id"},
		{"unknown ticket", "POST", "/api/v1/interactions", `{"ticket_id":98765,"channel":"chat","direction":"inbound"}`, 422, "invalid", "ticket_id"},
		{"ticket of another customer", "POST", "/api/v1/interactions", fmt.Sprintf(`{"customer_id":%d,"ticket_id":%d,"channel":"chat","direction":"inbound"}`, c2.ID, tk.ID), 422, "invalid", "customer_id"},
		{"ids not accepted on ticket message", "POST", fmt.Sprintf("/api/v1/tickets/%d/interactions", tk.ID), `{"customer_id":1,"channel":"chat","direction":"inbound"}`, 400, "unknown_field", "customer_id"},
		{"message to missing ticket", "POST", "/api/v1/tickets/98765/interactions", `{"channel":"email","direction":"inbound"}`, 404, "not_found", ""},
		{"missing", "GET", "/api/v1/interactions/98765", "", 404, "not_found", ""},
		{"no update", "PATCH", "/api/v1/interactions/1", `{}`, 405, "method_not_allowed", ""},
		{"list bad channel", "GET", "/api/v1/interactions?channel=fax", "", 422, "invalid", "channel"},
		{"list bad ticket", "GET", "/api/v1/interactions?ticket_id=-1", "", 422, "invalid", "ticket_id"},
	})
}

// TestInteractionDefaultsStartToNow pins the clock so the default is checked exactly.
func TestInteractionDefaultsStartToNow(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	e := newEnv(t, func(c *api.Config) { c.Now = func() time.Time { return now } })
	c := e.customer(map[string]any{"name": "An"})
	var i store.Interaction
	e.must(http.StatusCreated, "POST", "/api/v1/interactions",
		map[string]any{"customer_id": c.ID, "channel": "chat", "direction": "inbound"}, &i)
	if !i.StartedAt.Equal(now) {
		t.Fatalf("started_at %v, want %v", i.StartedAt, now)
	}
	r := e.must(http.StatusCreated, "POST", "/api/v1/interactions",
		map[string]any{"customer_id": c.ID, "channel": "voice", "direction": "outbound",
			"voice": map[string]any{"call_id": "abc@host", "outcome": "completed", "talk_seconds": 12.5}}, &i)
	if i.Voice == nil || i.Voice.CallID != "abc@host" {
		t.Fatalf("voice details lost: %s", r.body)
	}
	// A call's legs and From tag go in and come out; the same Call-ID with
	// another From tag is another call, the same pair a conflict.
	legs := []map[string]any{
		{"queue": "technical", "agent": "lan", "joined_at": "2026-03-04T05:00:00Z", "answered_at": "2026-03-04T05:00:20Z",
			"ended_at": "2026-03-04T05:01:20Z", "wait_seconds": 20, "talk_seconds": 60, "end": "transferred", "ended_by": "agent", "transfer_to": "sales"},
		{"queue": "sales", "agent": "mai", "joined_at": "2026-03-04T05:01:20Z", "answered_at": "2026-03-04T05:01:25Z",
			"ended_at": "2026-03-04T05:02:25Z", "wait_seconds": 5, "talk_seconds": 60, "end": "hangup", "ended_by": "caller"},
	}
	voice := func(tag string) map[string]any {
		return map[string]any{"customer_id": c.ID, "channel": "voice", "direction": "inbound",
			"voice": map[string]any{"call_id": "abc@host", "from_tag": tag, "outcome": "completed", "agent": "lan", "talk_seconds": 120,
				"hangup_side": "caller", "legs": legs}}
	}
	r = e.must(http.StatusCreated, "POST", "/api/v1/interactions", voice("t2"), &i)
	var got store.Interaction
	e.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/interactions/%d", i.ID), nil, &got)
	if v := got.Voice; v == nil || v.FromTag != "t2" || len(v.Legs) != 2 || v.Legs[0].TransferTo != "sales" || v.Legs[1].EndedBy != store.SideCaller ||
		!v.Legs[1].Answered() || v.Legs[1].TalkSeconds != 60 {
		t.Fatalf("voice legs lost: %s", r.body)
	}
	if r := e.do("POST", "/api/v1/interactions", writeToken, voice("t2")); r.status != http.StatusConflict {
		t.Fatalf("same Call-ID and From tag again: %d %s, want 409", r.status, r.body)
	}
	bad := voice("t3")
	bad["voice"].(map[string]any)["legs"] = []map[string]any{{"queue": "q", "end": "vanished"}}
	if r := e.do("POST", "/api/v1/interactions", writeToken, bad); r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), "voice.legs[0].end") {
		t.Fatalf("bad leg end: %d %s, want 422 naming voice.legs[0].end", r.status, r.body)
	}
	if loc := r.header.Get("Location"); loc != fmt.Sprintf("/api/v1/interactions/%d", i.ID) {
		t.Fatalf("Location %q", loc)
	}
}
