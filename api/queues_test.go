package api_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/api"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/queue"
)

// holdRinger rings nobody: an offer stays ringing (nothing answers or
// fails it) until the test ends.
type holdRinger struct{}

func (holdRinger) Ring(queue.Offer)           {}
func (holdRinger) Cancel(queue.Offer, string) {}

// newACD is a real queue.Service on a clock that stands still, with agents
// a and b in queue "q" (logged out), and queues q and sales.
func newACD(t *testing.T) *queue.Service {
	t.Helper()
	queues := map[string]config.Queue{"q": {}, "sales": {JoinEmpty: true}}
	for n, q := range queues {
		queues[n] = q.WithDefaults()
	}
	var agents []config.Agent
	for _, id := range []string{"a", "b"} {
		agents = append(agents, config.Agent{ID: id, Username: "u" + id, Queues: map[string]int{"q": 0}})
	}
	t0 := time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
	return queue.New(queue.Config{Agents: agents, Queues: queues, Ringer: holdRinger{}, Bus: events.NewBus(),
		Now: func() time.Time { return t0 }})
}

func TestQueueRoutes(t *testing.T) {
	svc := newACD(t)
	e := newEnv(t, func(c *api.Config) { c.ACD = svc })

	do := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		token := readToken
		if method != "GET" {
			token = writeToken
		}
		var b any
		if body != "" {
			b = body
		}
		r := e.do(method, "/api/v1"+path, token, b)
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("%s %s: content type %q", method, path, ct)
		}
		var v map[string]any
		if err := json.Unmarshal(r.body, &v); err != nil {
			t.Fatal(err)
		}
		return r.status, v
	}
	errCode := func(v map[string]any) string {
		e, _ := v["error"].(map[string]any)
		c, _ := e["code"].(string)
		f, _ := e["field"].(string)
		return c + "/" + f
	}
	tests := []struct {
		name, method, path, body string
		status                   int
		check                    func(t *testing.T, v map[string]any)
	}{
		{"login", "POST", "/agents/a/state", `{"state":"login"}`, 200, func(t *testing.T, v map[string]any) {
			if v["presence"] != "available" {
				t.Fatalf("%v", v)
			}
		}},
		{"pause with reason", "POST", "/agents/a/state", `{"state":"pause","reason":"lunch"}`, 200, func(t *testing.T, v map[string]any) {
			if v["presence"] != "paused" || v["reason"] != "lunch" {
				t.Fatalf("%v", v)
			}
		}},
		{"ready", "POST", "/agents/a/state", `{"state":"ready"}`, 200, nil},
		{"bad state", "POST", "/agents/a/state", `{"state":"nap"}`, 422, func(t *testing.T, v map[string]any) {
			if errCode(v) != "invalid/state" {
				t.Fatalf("%v", v)
			}
		}},
		{"unknown field", "POST", "/agents/a/state", `{"state":"ready","mood":1}`, 400, func(t *testing.T, v map[string]any) {
			if errCode(v) != "unknown_field/mood" {
				t.Fatalf("%v", v)
			}
		}},
		{"bad json", "POST", "/agents/a/state", `{`, 400, func(t *testing.T, v map[string]any) {
			if errCode(v) != "bad_json/" {
				t.Fatalf("%v", v)
			}
		}},
		{"reason with newline", "POST", "/agents/a/state", `{"state":"pause","reason":"a\nb"}`, 422, nil},
		{"ready while logged out", "POST", "/agents/b/state", `{"state":"ready"}`, 409, nil},
		{"unknown agent", "POST", "/agents/zz/state", `{"state":"login"}`, 404, nil},
		{"get agent", "GET", "/agents/a", "", 200, func(t *testing.T, v map[string]any) {
			// The clock stands still at t0: the agent became available then.
			if v["id"] != "a" || v["activity"] != "idle" || v["state_since"] != "2026-03-04T09:00:00Z" || v["calls_today"] != 0.0 {
				t.Fatalf("%v", v)
			}
		}},
		{"agents", "GET", "/agents", "", 200, func(t *testing.T, v map[string]any) {
			if items, _ := v["items"].([]any); len(items) != 2 {
				t.Fatalf("%v", v)
			}
		}},
		{"queues", "GET", "/queues", "", 200, func(t *testing.T, v map[string]any) {
			items, _ := v["items"].([]any)
			if len(items) != 2 || items[0].(map[string]any)["name"] != "q" {
				t.Fatalf("%v", v)
			}
		}},
		{"unknown queue", "GET", "/queues/nope", "", 404, func(t *testing.T, v map[string]any) {
			if errCode(v) != "not_found/" {
				t.Fatalf("%v", v)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, v := do(tt.method, tt.path, tt.body)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, v)
			}
			if tt.check != nil {
				tt.check(t, v)
			}
		})
	}
	// Live queue view with a caller being offered.
	if _, err := svc.Join(queue.JoinRequest{CallID: "c1", Queue: "q", Tier: "vip"}); err != nil {
		t.Fatal(err)
	}
	status, v := do("GET", "/queues/q", "")
	if status != 200 || v["waiting"] != 1.0 {
		t.Fatalf("queue view %d %v", status, v)
	}
	callers := v["callers"].([]any)
	if c := callers[0].(map[string]any); c["call_id"] != "c1" || c["ringing"] != true || c["tier"] != "vip" {
		t.Fatalf("callers %v", callers)
	}
	ws := v["windows"].([]any)
	if len(ws) != 2 || ws[0].(map[string]any)["name"] != "30m" || ws[1].(map[string]any)["name"] != "today" {
		t.Fatalf("windows %v", ws)
	}

	// The routes are the API's: a token is needed, a read token may not
	// write, the methods they do not serve are 405.
	if r := e.do("GET", "/api/v1/queues", "", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("queues without token: %d, want 401", r.status)
	}
	if r := e.do("POST", "/api/v1/agents/a/state", readToken, `{"state":"logout"}`); r.status != http.StatusForbidden {
		t.Fatalf("state change with a read token: %d, want 403", r.status)
	}
	if r := e.do("POST", "/api/v1/queues", readToken, nil); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("POST on GET route: %d, want 405", r.status)
	}
}

// TestQueueRoutesWithoutACD: a process without queues answers 503.
func TestQueueRoutesWithoutACD(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/api/v1/queues", "/api/v1/queues/q", "/api/v1/agents", "/api/v1/agents/a"} {
		if r := e.do("GET", p, readToken, nil); r.status != http.StatusServiceUnavailable || decodeErr(t, r).Error.Code != "unavailable" {
			t.Errorf("GET %s: %d %s, want 503 unavailable", p, r.status, r.body)
		}
	}
}

// TestOpenAPIDescribesQueueRoutes: the ACD's seven operations are in the
// one description, and the route tree matches it.
func TestOpenAPIDescribesQueueRoutes(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.ACD = newACD(t) })
	if missing, extra, err := e.api.CheckSpec(); err != nil || len(missing)+len(extra) != 0 {
		t.Fatalf("missing %v extra %v err %v", missing, extra, err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(e.api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"get /api/v1/queues", "get /api/v1/queues/{name}", "get /api/v1/agents",
		"get /api/v1/agents/{id}", "post /api/v1/agents/{id}/state",
		"put /api/v1/queues/{name}/members/{agent}", "delete /api/v1/queues/{name}/members/{agent}"} {
		method, path, _ := strings.Cut(op, " ")
		if _, ok := doc.Paths[path][method]; !ok {
			t.Errorf("%s not described", op)
		}
	}
}

// TestQueueMemberRoutes: PUT adds (201) or sets the penalty (200), DELETE
// takes out (204, then 404); the queue's view and the agent follow, and
// the errors name what is wrong.
func TestQueueMemberRoutes(t *testing.T) {
	svc := newACD(t)
	e := newEnv(t, func(c *api.Config) { c.ACD = svc })
	type member struct {
		Queue   string `json:"queue"`
		Agent   string `json:"agent"`
		Penalty int    `json:"penalty"`
	}
	tests := []struct {
		name, method, path string
		body               any // nil: no body
		status             int
		want               *member
		code, field        string
	}{
		{name: "add without a body", method: "PUT", path: "/queues/sales/members/a", status: 201, want: &member{"sales", "a", 0}},
		{name: "the same again", method: "PUT", path: "/queues/sales/members/a", status: 200, want: &member{"sales", "a", 0}},
		{name: "a penalty", method: "PUT", path: "/queues/sales/members/a", body: `{"penalty": 3}`, status: 200, want: &member{"sales", "a", 3}},
		{name: "add with a penalty", method: "PUT", path: "/queues/sales/members/b", body: `{"penalty": 1}`, status: 201, want: &member{"sales", "b", 1}},
		{name: "negative penalty", method: "PUT", path: "/queues/sales/members/a", body: `{"penalty": -1}`, status: 422, code: "invalid", field: "penalty"},
		{name: "penalty too high", method: "PUT", path: "/queues/sales/members/a", body: `{"penalty": 1001}`, status: 422, code: "invalid", field: "penalty"},
		{name: "penalty not a number", method: "PUT", path: "/queues/sales/members/a", body: `{"penalty": "2"}`, status: 422, code: "invalid", field: "penalty"},
		{name: "unknown field", method: "PUT", path: "/queues/sales/members/a", body: `{"priority": 2}`, status: 400, code: "unknown_field", field: "priority"},
		{name: "bad json", method: "PUT", path: "/queues/sales/members/a", body: `{"penalty":`, status: 400, code: "bad_json"},
		{name: "unknown queue", method: "PUT", path: "/queues/nope/members/a", status: 404, code: "not_found"},
		{name: "unknown agent", method: "PUT", path: "/queues/sales/members/zz", status: 404, code: "not_found"},
		{name: "remove", method: "DELETE", path: "/queues/q/members/a", status: 204},
		{name: "remove again: not a member", method: "DELETE", path: "/queues/q/members/a", status: 404, code: "not_found"},
		{name: "remove from an unknown queue", method: "DELETE", path: "/queues/nope/members/b", status: 404, code: "not_found"},
		{name: "remove an unknown agent", method: "DELETE", path: "/queues/q/members/zz", status: 404, code: "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(tt.method, "/api/v1"+tt.path, writeToken, tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			switch {
			case tt.code != "":
				if got := decodeErr(t, r); got.Error.Code != tt.code || got.Error.Field != tt.field {
					t.Fatalf("error %+v, want %s/%s", got.Error, tt.code, tt.field)
				}
			case tt.want != nil:
				var got member
				if err := json.Unmarshal(r.body, &got); err != nil || got != *tt.want {
					t.Fatalf("body %s, want %+v", r.body, *tt.want)
				}
			case len(r.body) != 0:
				t.Fatalf("204 with a body: %s", r.body)
			}
		})
	}
	// The queue's view and the agents show the changes.
	var q struct {
		Members []member `json:"members"`
	}
	e.must(http.StatusOK, "GET", "/api/v1/queues/sales", nil, &q)
	if want := []member{{Agent: "a", Penalty: 3}, {Agent: "b", Penalty: 1}}; !slices.Equal(q.Members, want) {
		t.Fatalf("sales members %+v, want %+v", q.Members, want)
	}
	e.must(http.StatusOK, "GET", "/api/v1/queues/q", nil, &q)
	if want := []member{{Agent: "b"}}; !slices.Equal(q.Members, want) {
		t.Fatalf("q members %+v, want %+v", q.Members, want)
	}
	if a, err := svc.Agent("a"); err != nil || !maps.Equal(a.Queues, map[string]int{"sales": 3}) {
		t.Fatalf("agent a %+v, %v", a, err)
	}
	// A read token may not change membership.
	if r := e.do("PUT", "/api/v1/queues/q/members/a", readToken, nil); r.status != http.StatusForbidden || decodeErr(t, r).Error.Code != "forbidden" {
		t.Fatalf("PUT with a read token: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", "/api/v1/queues/sales/members/a", readToken, nil); r.status != http.StatusForbidden {
		t.Fatalf("DELETE with a read token: %d %s", r.status, r.body)
	}
	if a, _ := svc.Agent("a"); !maps.Equal(a.Queues, map[string]int{"sales": 3}) {
		t.Fatalf("a refused change changed a: %v", a.Queues)
	}
}

// TestQueueMemberErrorsGolden pins the error bodies of the membership
// routes.
func TestQueueMemberErrorsGolden(t *testing.T) {
	t.Setenv("HOTLINE_TEST_AGENT_B", agentBPassword)
	e := newEnv(t, withAgents, func(c *api.Config) { c.ACD = newACD(t) })
	agentA := e.signIn(map[string]string{"username": "ua", "password": agentAPassword})
	tests := []struct {
		name, method, path, token, body string
		session                         *browser
	}{
		{name: "member_penalty_negative", method: "PUT", path: "/api/v1/queues/sales/members/a", body: `{"penalty": -2}`},
		{name: "member_penalty_type", method: "PUT", path: "/api/v1/queues/sales/members/a", body: `{"penalty": "low"}`},
		{name: "member_unknown_field", method: "PUT", path: "/api/v1/queues/sales/members/a", body: `{"skill": "vi"}`},
		{name: "member_queue_unknown", method: "PUT", path: "/api/v1/queues/nowhere/members/a"},
		{name: "member_agent_unknown", method: "PUT", path: "/api/v1/queues/sales/members/nobody"},
		{name: "member_not_a_member", method: "DELETE", path: "/api/v1/queues/sales/members/a"},
		{name: "member_read_token", method: "PUT", path: "/api/v1/queues/sales/members/a", token: readToken},
		{name: "member_agent_session", method: "PUT", path: "/api/v1/queues/sales/members/a", session: agentA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.body != "" {
				body = tt.body
			}
			var r resp
			switch {
			case tt.session != nil:
				r = tt.session.change(tt.method, tt.path, body)
			case tt.token != "":
				r = e.do(tt.method, tt.path, tt.token, body)
			default:
				r = e.do(tt.method, tt.path, writeToken, body)
			}
			decodeErr(t, r)
			errorGolden(t, tt.name, fmt.Sprintf("%d %s\n%s", r.status, http.StatusText(r.status), r.body))
		})
	}
}
