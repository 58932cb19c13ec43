package api_test

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/api"
	"github.com/hotline-dev/hotline/config"
)

// A token bound to agent a (http.tokens[].agent).
const agentToken = "ag-secret-0123456789"

func withAgentToken(c *api.Config) {
	withAgents(c)
	c.Tokens = append(c.Tokens,
		config.Token{Name: "a-desk", Secret: agentToken, Agent: "a"},
		// Refused by config.Validate; the API must not make either a token.
		config.Token{Name: "ghost", Secret: "ghost-secret-0123456789", Agent: "nobody", Scope: "agent"},
		config.Token{Name: "sneaky", Secret: "sneaky-secret-0123456789", Agent: "a", Scope: "write"},
	)
}

// An agent-bound token acts only as its agent, as a bearer token and as
// the session it signs in to: its own state, the wrap-up of its calls,
// every read; nothing else.
func TestAgentToken(t *testing.T) {
	e := newEnv(t, withAgentToken, func(c *api.Config) { c.ACD = deskACD{ACD: newACD(t), ringing: "0281234567"} })
	caller := e.customer(map[string]any{"name": "Lan", "phones": []string{"0281234567"}})
	other := e.customer(map[string]any{"name": "Minh", "phones": []string{"0287654321"}})
	callerTicket := e.ticket(map[string]any{"customer_id": caller.ID, "subject": "parcel late"})
	otherTicket := e.ticket(map[string]any{"customer_id": other.ID, "subject": "refund"})
	notes := func(id int64) string { return "/api/v1/tickets/" + strconv.FormatInt(id, 10) + "/notes" }
	login := map[string]string{"state": "login"}
	note := map[string]any{"note": "wrapped up", "category": "delivery"}
	tests := []struct {
		name         string
		method, path string
		body         any
		status       int
	}{
		{"reads agents", "GET", "/api/v1/agents", nil, 200},
		{"reads another agent", "GET", "/api/v1/agents/b", nil, 200},
		{"reads customers", "GET", "/api/v1/customers", nil, 200},
		{"reads queues", "GET", "/api/v1/queues", nil, 200},
		{"changes its agent's state", "POST", "/api/v1/agents/a/state", login, 200},
		{"cannot change another agent", "POST", "/api/v1/agents/b/state", login, 403},
		{"wraps up its caller's ticket", "POST", notes(callerTicket.ID), note, 201},
		{"cannot wrap up an unrelated ticket", "POST", notes(otherTicket.ID), note, 403},
		{"cannot create customers", "POST", "/api/v1/customers", map[string]string{"name": "x"}, 403},
		{"cannot patch tickets", "PATCH", "/api/v1/tickets/" + strconv.FormatInt(callerTicket.ID, 10), map[string]string{"status": "solved"}, 403},
		{"cannot join a queue", "PUT", "/api/v1/queues/sales/members/a", nil, 403},
		{"cannot take itself out", "DELETE", "/api/v1/queues/q/members/a", nil, 403},
		{"cannot add interactions", "POST", "/api/v1/interactions", map[string]any{"customer_id": caller.ID, "channel": "email"}, 403},
	}
	check := func(t *testing.T, r resp, want int) {
		t.Helper()
		if r.status != want {
			t.Fatalf("status %d, want %d: %s", r.status, want, r.body)
		}
		if want == 403 && decodeErr(t, r).Error.Code != "forbidden" {
			t.Fatalf("body %s", r.body)
		}
	}
	t.Run("bearer", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { check(t, e.do(tt.method, tt.path, agentToken, tt.body), tt.status) })
		}
	})
	// The desk's token sign-in: the session is agent a's, like one signed
	// in with a's SIP credentials.
	desk := e.signIn(map[string]string{"token": agentToken})
	if desk.who.Scope != api.ScopeAgent || desk.who.Agent != "a" || desk.who.Name != "a-desk" || desk.who.Kind != "session" {
		t.Fatalf("session of the agent token: %+v", desk.who)
	}
	t.Run("session", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { check(t, desk.change(tt.method, tt.path, tt.body), tt.status) })
		}
	})
	// GET /session with the bearer token says whom it acts as.
	var who sessionInfo
	r := e.do("GET", "/api/v1/session", agentToken, nil)
	if err := json.Unmarshal(r.body, &who); err != nil || r.status != 200 || who != (sessionInfo{Kind: "token", Name: "a-desk", Scope: "agent", Agent: "a"}) {
		t.Fatalf("GET /session with the agent token: %d %s (%v)", r.status, r.body, err)
	}
	// The session still needs the CSRF token for a change.
	if r := desk.do("POST", "/api/v1/agents/a/state", login, map[string]string{"Origin": e.url}); r.status != 403 {
		t.Fatalf("change without the CSRF token: %d %s", r.status, r.body)
	}
	// Tokens config.Validate refuses are not tokens here either.
	for _, secret := range []string{"ghost-secret-0123456789", "sneaky-secret-0123456789"} {
		if r := e.do("GET", "/api/v1/agents", secret, nil); r.status != 401 {
			t.Errorf("refused token %s: %d %s", secret, r.status, r.body)
		}
		if r := e.doWith("POST", "/api/v1/session", "", map[string]string{"token": secret}, nil); r.status != 401 {
			t.Errorf("sign-in with refused token %s: %d %s", secret, r.status, r.body)
		}
	}
}

// A wrong token at the desk's sign-in is 401 and spends the address's
// allowance like any wrong credential; then even the agent's right token
// waits (429) until the allowance refills.
func TestAgentTokenSignInThrottled(t *testing.T) {
	clk := newClock()
	e := newEnv(t, withAgentToken, func(c *api.Config) { c.AuthFailures = 3; c.Now = clk.now; c.ACD = newACD(t) })
	for i := range 2 {
		r := e.doWith("POST", "/api/v1/session", "", map[string]string{"token": "ag-guess-" + strconv.Itoa(i)}, nil)
		if r.status != 401 || decodeErr(t, r).Error.Code != "unauthorized" || sessionCookie(t, r.header) != nil {
			t.Fatalf("wrong token %d: %d %s", i, r.status, r.body)
		}
	}
	if r := e.do("GET", "/api/v1/agents", "ag-guess-bearer", nil); r.status != 401 {
		t.Fatalf("wrong bearer token: %d", r.status)
	}
	right := map[string]string{"token": agentToken}
	r := e.doWith("POST", "/api/v1/session", "", right, nil)
	if r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("right token while throttled: %d %v %s", r.status, r.header, r.body)
	}
	if r := e.do("GET", "/api/v1/agents", agentToken, nil); r.status != 429 {
		t.Fatalf("right bearer token while throttled: %d %s", r.status, r.body)
	}
	clk.add(time.Minute)
	if b := e.signIn(right); b.who.Agent != "a" {
		t.Fatalf("after the wait: %+v", b.who)
	}
}
