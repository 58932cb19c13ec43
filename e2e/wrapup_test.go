package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
)

// The agent saves the wrap-up right after hanging up, before the call is
// in the ticket history (issue 11). The test holds the call log's write
// back by locking the table its transaction writes last (voice_calls)
// from a second PostgreSQL connection, so "not logged yet" is a fact of the test, not a
// race it hopes to win; with wrap_up 0s the ACD has already forgotten the
// caller. The agent's API token (http.tokens[].agent) must still be let
// through, and the call is logged once the lock goes.
func TestWrapUpBeforeTheCallIsLogged(t *testing.T) {
	leakCheck(t)
	const agentToken = "e2e-desk-token-0123456789"
	dsn := pgtest.Schema(t)
	phone := startAgentPhone(t)
	h := start(t, func(c *config.Config) {
		c.Database.URL = dsn
		c.Agents = []config.Agent{{ID: "desk", Name: "Desk", URI: "sip:desk@" + phone.srv.Addr().String(), Queues: map[string]int{"technical": 0}}}
		c.Allow.Hosts = []string{"127.0.0.1"}
		q := c.Queues["technical"]
		q.WrapUp = 0 // idle at the hang-up: the ACD no longer names the caller
		c.Queues["technical"] = q
		c.HTTP.Tokens = append(c.HTTP.Tokens, config.Token{Name: "desk-token", Secret: agentToken, Agent: "desk"})
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := h.app.Store(ctx)
	must(t, err)
	cust := &store.Customer{Name: "Trần Văn Bình", Phones: []string{"+84912345678"}}
	must(t, st.CreateCustomer(ctx, cust))
	// Category technical: the call (queue technical) is logged on it
	// (the newest open ticket of the customer and category).
	ticket := &store.Ticket{CustomerID: cust.ID, Subject: "router keeps rebooting", Status: store.StatusOpen, Priority: "normal",
		Channel: store.ChannelEmail, Category: "technical"}
	must(t, st.CreateTicket(ctx, ticket))
	apiPost(t, h, "/api/v1/agents/desk/state", `{"state":"login"}`)

	_, call, _ := dial(t, h, "sip:300@"+h.sipAddr("udp"), sip.DialOptions{From: "0912345678"})
	id := call.ID()
	h.bridged(id, "desk")
	select {
	case <-phone.calls:
	case <-time.After(10 * time.Second):
		t.Fatal("the agent's phone never got the call")
	}

	// Hold the call log before the call ends.
	lock, err := pgx.Connect(ctx, dsn)
	must(t, err)
	defer lock.Close(context.Background())
	tx, err := lock.Begin(ctx)
	must(t, err)
	defer func() { _ = tx.Rollback(context.Background()) }()
	// EXCLUSIVE: the call log's INSERT waits, reads do not (the API's
	// wrap-up check may read the ticket's calls: without the grant it
	// answers 403 here, the bug, rather than hanging). The stalled write
	// holds ticket 1's row (updated_at), which the note neither updates
	// (same category) nor needs more than a key-share lock on.
	_, err = tx.Exec(ctx, `LOCK TABLE voice_calls IN EXCLUSIVE MODE`)
	must(t, err)

	close(phone.hangup) // the agent hangs up
	select {
	case <-call.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the caller was not hung up")
	}
	h.waitEvent(10*time.Second, "agent idle after the call", func(e events.Event) bool {
		c, ok := e.Payload.(queue.AgentChange)
		return e.Type == events.AgentState && e.Agent == "desk" && ok && c.Activity == queue.Idle && c.HandleMS != nil
	})
	var logged int
	must(t, tx.QueryRow(ctx, `SELECT count(*) FROM voice_calls`).Scan(&logged))
	if logged != 0 {
		t.Fatalf("%d calls logged while the table is locked: the test holds nothing", logged)
	}

	// Save: note and category, as the desk sends them.
	notes := "http://" + h.app.HTTPAddr().String() + "/api/v1/tickets/" + strconv.FormatInt(ticket.ID, 10) + "/notes"
	post := func(body string) (int, string) {
		req, err := http.NewRequestWithContext(ctx, "POST", notes, strings.NewReader(body))
		must(t, err)
		req.Header.Set("Authorization", "Bearer "+agentToken)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		must(t, err)
		defer res.Body.Close()
		var b json.RawMessage
		_ = json.NewDecoder(res.Body).Decode(&b)
		return res.StatusCode, string(b)
	}
	if status, body := post(`{"note": "Replaced the power supply remotely.", "category": "technical"}`); status != 201 {
		t.Fatalf("wrap-up right after the hang-up, call not logged: %d %s", status, body)
	}

	// Let the call log write; the call lands on the ticket and the right
	// to wrap up now stands on it.
	must(t, tx.Commit(ctx))
	if its := h.interactions(id); len(its) != 1 || its[0].TicketID != ticket.ID || its[0].Voice.Agent != "desk" {
		t.Fatalf("the call's record: %+v", its)
	}
	if status, body := post(`{"note": "Customer confirmed it works."}`); status != 201 {
		t.Fatalf("wrap-up after the call is logged: %d %s", status, body)
	}
	items, _, err := st.ListInteractions(ctx, store.InteractionFilter{TicketID: ticket.ID}, store.Page{Limit: 10})
	must(t, err)
	var got []string
	for _, i := range items {
		got = append(got, i.Body)
	}
	if len(items) != 3 || !strings.Contains(strings.Join(got, "|"), "Replaced the power supply remotely.") {
		t.Errorf("the ticket's interactions: %q, want the call and both notes", got)
	}
	h.shutdown()
}
