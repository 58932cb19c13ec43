package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/api"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
)

// Agents who may sign in (their ids are newACD's).
const (
	agentAPassword = "pa-0123456789"
	agentBPassword = "pb-0123456789"
)

func withAgents(c *api.Config) {
	c.Agents = []config.Agent{
		{ID: "a", Username: "ua", Password: agentAPassword},
		{ID: "b", Username: "ub", Password: "env:HOTLINE_TEST_AGENT_B"},
		{ID: "c", Username: "uc", Password: "env:HOTLINE_TEST_UNSET_PW"}, // resolves empty: cannot sign in
		{ID: "d", Password: "no-username"},                               // no SIP account: cannot sign in
	}
}

// clock is a fake time the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// browser is a signed-in session: its cookie and CSRF token.
type browser struct {
	e      *env
	cookie *http.Cookie
	csrf   string
	who    sessionInfo
}

type sessionInfo struct {
	Kind      string    `json:"kind"`
	Name      string    `json:"name"`
	Scope     string    `json:"scope"`
	Agent     string    `json:"agent"`
	Expires   time.Time `json:"expires"`
	CSRFToken string    `json:"csrf_token"`
}

// sessionCookie finds the session cookie a response sets.
func sessionCookie(t *testing.T, h http.Header) *http.Cookie {
	t.Helper()
	for _, line := range h.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("Set-Cookie %q: %v", line, err)
		}
		if strings.HasSuffix(c.Name, "hotline_session") {
			return c
		}
	}
	return nil
}

// signIn posts body to /api/v1/session and wants 201.
func (e *env) signIn(body any) *browser {
	e.t.Helper()
	r := e.doWith("POST", "/api/v1/session", "", body, nil)
	if r.status != http.StatusCreated {
		e.t.Fatalf("sign in: status %d: %s", r.status, r.body)
	}
	b := &browser{e: e, cookie: sessionCookie(e.t, r.header)}
	if b.cookie == nil || b.cookie.Value == "" {
		e.t.Fatalf("sign in set no session cookie: %v", r.header)
	}
	if err := json.Unmarshal(r.body, &b.who); err != nil {
		e.t.Fatal(err)
	}
	b.csrf = b.who.CSRFToken
	return b
}

// do sends the cookie only (no Authorization), plus header.
func (b *browser) do(method, path string, body any, header map[string]string) resp {
	b.e.t.Helper()
	h := map[string]string{"Cookie": b.cookie.Name + "=" + b.cookie.Value}
	for k, v := range header {
		h[k] = v
	}
	return b.e.doWith(method, path, "", body, h)
}

// change sends a state change as the page would: cookie, CSRF token, own Origin.
func (b *browser) change(method, path string, body any) resp {
	b.e.t.Helper()
	return b.do(method, path, body, map[string]string{api.CSRFHeader: b.csrf, "Origin": b.e.url, "Sec-Fetch-Site": "same-origin"})
}

func TestSessionSignIn(t *testing.T) {
	t.Setenv("HOTLINE_TEST_AGENT_B", agentBPassword)
	e := newEnv(t, withAgents)
	tests := []struct {
		name        string
		body        any
		form        string
		scope, agnt string
	}{
		{"write token", map[string]string{"token": writeToken}, "", "write", ""},
		{"read token", map[string]string{"token": readToken}, "", "read", ""},
		{"agent password", map[string]string{"username": "ua", "password": agentAPassword}, "", "agent", "a"},
		{"agent env: password", map[string]string{"username": "ub", "password": agentBPassword}, "", "agent", "b"},
		{"form token", nil, "token=" + readToken, "read", ""},
		{"form agent", nil, "username=ua&password=" + agentAPassword, "agent", "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r resp
			if tt.form != "" {
				r = e.doWith("POST", "/api/v1/session", "", tt.form, map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
			} else {
				r = e.doWith("POST", "/api/v1/session", "", tt.body, nil)
			}
			if r.status != http.StatusCreated {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			c := sessionCookie(t, r.header)
			if c == nil || c.Name != "hotline_session" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure || c.Domain != "" {
				t.Fatalf("cookie %+v: want hotline_session, HttpOnly, SameSite=Strict, Path=/, not Secure on plain HTTP, no Domain", c)
			}
			if len(c.Value) < 43 {
				t.Fatalf("session id %q: want 32 random bytes", c.Value)
			}
			if cc := r.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
			var who sessionInfo
			if err := json.Unmarshal(r.body, &who); err != nil {
				t.Fatal(err)
			}
			if who.Kind != "session" || who.Scope != tt.scope || who.Agent != tt.agnt || who.CSRFToken == "" || who.Expires.IsZero() {
				t.Fatalf("session %+v, want scope %s agent %q", who, tt.scope, tt.agnt)
			}
			b := &browser{e: e, cookie: c}
			got := b.do("GET", "/api/v1/session", nil, nil)
			var again sessionInfo
			if got.status != 200 || json.Unmarshal(got.body, &again) != nil || again.Scope != tt.scope || again.CSRFToken != who.CSRFToken {
				t.Fatalf("GET /session: %d %s", got.status, got.body)
			}
			if r := b.do("GET", "/api/v1/customers", nil, nil); r.status != 200 {
				t.Fatalf("GET customers with the cookie: %d %s", r.status, r.body)
			}
		})
	}
	// A bearer token asking who it is.
	var who sessionInfo
	r := e.do("GET", "/api/v1/session", readToken, nil)
	if r.status != 200 || json.Unmarshal(r.body, &who) != nil || who.Kind != "token" || who.Name != "board" || who.Scope != "read" || who.CSRFToken != "" {
		t.Fatalf("GET /session with a bearer token: %d %s", r.status, r.body)
	}
}

func TestSessionSignInRefused(t *testing.T) {
	t.Setenv("HOTLINE_TEST_AGENT_B", agentBPassword)
	e := newEnv(t, withAgents)
	tests := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"unknown token", map[string]string{"token": "nope"}, 401, "unauthorized"},
		{"wrong password", map[string]string{"username": "ua", "password": agentBPassword}, 401, "unauthorized"},
		{"unknown user", map[string]string{"username": "zz", "password": agentAPassword}, 401, "unauthorized"},
		{"password env unset", map[string]string{"username": "uc", "password": ""}, 422, "invalid"},
		{"agent without username", map[string]string{"username": "", "password": "no-username"}, 422, "invalid"},
		{"username is not a token", map[string]string{"token": "ua"}, 401, "unauthorized"},
		{"both kinds", map[string]string{"token": writeToken, "username": "ua", "password": agentAPassword}, 422, "invalid"},
		{"empty", map[string]string{}, 422, "invalid"},
		{"unknown field", map[string]string{"secret": writeToken}, 400, "unknown_field"},
		{"not JSON", "token=" + writeToken, 400, "bad_json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.doWith("POST", "/api/v1/session", "", tt.body, nil)
			if r.status != tt.status || decodeErr(t, r).Error.Code != tt.code {
				t.Fatalf("status %d, want %d %s: %s", r.status, tt.status, tt.code, r.body)
			}
			if sessionCookie(t, r.header) != nil {
				t.Fatal("a refused sign-in set a cookie")
			}
		})
	}
}

// Wrong credentials share the throttle of unknown bearer tokens: once the
// address has spent its allowance, even the right password gets 429, until
// the allowance refills.
func TestSessionSignInThrottled(t *testing.T) {
	clk := newClock()
	e := newEnv(t, withAgents, func(c *api.Config) { c.AuthFailures = 3; c.Now = clk.now })
	wrong := map[string]string{"username": "ua", "password": "guess"}
	for i := range 2 {
		if r := e.doWith("POST", "/api/v1/session", "", wrong, nil); r.status != 401 {
			t.Fatalf("guess %d: %d %s", i, r.status, r.body)
		}
	}
	if r := e.do("GET", "/api/v1/customers", "guessed-token", nil); r.status != 401 { // the third failure, as a bearer token
		t.Fatalf("bearer guess: %d", r.status)
	}
	right := map[string]string{"username": "ua", "password": agentAPassword}
	r := e.doWith("POST", "/api/v1/session", "", right, nil)
	if r.status != 429 || r.header.Get("Retry-After") == "" || decodeErr(t, r).Error.Code != "rate_limited" {
		t.Fatalf("right password while throttled: %d %v %s", r.status, r.header, r.body)
	}
	clk.add(time.Minute)
	e.signIn(right)
}

func TestSessionCookieSecureOverTLS(t *testing.T) {
	srv := api.New(api.Config{Store: openSQLite(t), Tokens: []config.Token{{Name: "board", Secret: readToken, Scope: "read"}}})
	ts := httptest.NewTLSServer(srv)
	defer ts.Close()
	defer srv.Close()
	post := func(client *http.Client) *http.Response {
		res, err := client.Post(ts.URL+"/api/v1/session", "application/json", strings.NewReader(`{"token":"`+readToken+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = res.Body.Close() })
		return res
	}
	res := post(ts.Client())
	c := sessionCookie(t, res.Header)
	if res.StatusCode != 201 || c == nil || !c.Secure || c.Name != "__Host-hotline_session" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Domain != "" {
		t.Fatalf("status %d cookie %+v: want __Host-hotline_session, Secure, HttpOnly, SameSite=Strict, Path=/", res.StatusCode, c)
	}
	get := func(name string) int {
		req, _ := http.NewRequest("GET", ts.URL+"/api/v1/customers", nil)
		req.AddCookie(&http.Cookie{Name: name, Value: c.Value})
		res, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		return res.StatusCode
	}
	if s := get("__Host-hotline_session"); s != 200 {
		t.Fatalf("GET with the __Host- cookie over TLS: %d", s)
	}
	if s := get("hotline_session"); s != 401 {
		t.Fatalf("over TLS the plain-HTTP cookie name must not count: %d", s)
	}
}

// The stream opens with the cookie alone (as EventSource sends it), and
// ends when the session signs out.
func TestSessionEventStream(t *testing.T) {
	e := newEnv(t)
	b := e.signIn(map[string]string{"token": readToken})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/api/v1/events", nil)
	req.AddCookie(b.cookie)
	req.Header.Set("Accept", "text/event-stream")
	res, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("stream with the cookie: %d %s", res.StatusCode, readAll(t, res))
	}
	s := &sse{t: t, res: res, r: bufio.NewReader(res.Body), cancel: cancel}
	if first := s.block(); !strings.HasPrefix(first, ": hotline events") {
		t.Fatalf("opened with %q", first)
	}
	e.bus.Publish(events.Event{Type: events.QueueJoined, Queue: "sales", CallID: "c1"})
	if _, ev := s.event(); ev.Type != events.QueueJoined || ev.Queue != "sales" {
		t.Fatalf("event %+v", ev)
	}
	if r := b.change("DELETE", "/api/v1/session", nil); r.status != 204 {
		t.Fatalf("sign out: %d %s", r.status, r.body)
	}
	if _, err := io.ReadAll(s.r); err != nil {
		t.Fatalf("stream did not end at sign out: %v", err)
	}
}

func TestSessionScopes(t *testing.T) {
	t.Setenv("HOTLINE_TEST_AGENT_B", agentBPassword)
	acd := newACD(t)
	e := newEnv(t, withAgents, func(c *api.Config) { c.ACD = acd })
	read := e.signIn(map[string]string{"token": readToken})
	write := e.signIn(map[string]string{"token": writeToken})
	agentA := e.signIn(map[string]string{"username": "ua", "password": agentAPassword})
	login := map[string]string{"state": "login"}
	tests := []struct {
		name         string
		b            *browser
		method, path string
		body         any
		status       int
	}{
		{"read session cannot change agent state", read, "POST", "/api/v1/agents/a/state", login, 403},
		{"read session cannot create", read, "POST", "/api/v1/customers", map[string]string{"name": "x"}, 403},
		{"read session reads agents", read, "GET", "/api/v1/agents", nil, 200},
		{"agent changes another agent", agentA, "POST", "/api/v1/agents/b/state", login, 403},
		{"agent changes itself", agentA, "POST", "/api/v1/agents/a/state", login, 200},
		{"agent path trick routes nowhere", agentA, "POST", "/api/v1/agents/a/state/../../b/state", login, 404},
		{"agent cannot create customers", agentA, "POST", "/api/v1/customers", map[string]string{"name": "x"}, 403},
		{"agent cannot patch tickets", agentA, "PATCH", "/api/v1/tickets/1", map[string]string{"status": "solved"}, 403},
		{"agent reads queues", agentA, "GET", "/api/v1/queues", nil, 200},
		{"agent reads customers", agentA, "GET", "/api/v1/customers", nil, 200},
		{"agent reads another agent", agentA, "GET", "/api/v1/agents/b", nil, 200},
		{"agent cannot join a queue", agentA, "PUT", "/api/v1/queues/sales/members/a", nil, 403},
		{"agent cannot change its penalty", agentA, "PUT", "/api/v1/queues/q/members/a", map[string]int{"penalty": 9}, 403},
		{"agent cannot leave a queue", agentA, "DELETE", "/api/v1/queues/q/members/a", nil, 403},
		{"agent cannot take another out", agentA, "DELETE", "/api/v1/queues/q/members/b", nil, 403},
		{"read session cannot change membership", read, "PUT", "/api/v1/queues/sales/members/b", nil, 403},
		{"write session adds a member", write, "PUT", "/api/v1/queues/sales/members/b", nil, 201},
		{"write session removes a member", write, "DELETE", "/api/v1/queues/q/members/b", nil, 204},
		{"write session changes anyone", write, "POST", "/api/v1/agents/b/state", login, 200},
		{"write session creates", write, "POST", "/api/v1/customers", map[string]string{"name": "Lan"}, 201},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.b.change(tt.method, tt.path, tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.status == 403 && decodeErr(t, r).Error.Code != "forbidden" {
				t.Fatalf("body %s", r.body)
			}
		})
	}
	// The refused membership changes changed nothing.
	if a, err := acd.Agent("a"); err != nil || !maps.Equal(a.Queues, map[string]int{"q": 0}) {
		t.Fatalf("agent a's queues %v (%v), want q alone", a.Queues, err)
	}
	if b, err := acd.Agent("b"); err != nil || !maps.Equal(b.Queues, map[string]int{"sales": 0}) {
		t.Fatalf("agent b's queues %v (%v), want sales alone (the write session's changes)", b.Queues, err)
	}
}

func TestSessionCSRF(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.ACD = newACD(t) })
	b := e.signIn(map[string]string{"token": writeToken})
	body := map[string]string{"state": "login"}
	const path = "/api/v1/agents/a/state"
	tests := []struct {
		name   string
		header map[string]string
		status int
		field  string
	}{
		{"no CSRF header", map[string]string{"Origin": e.url}, 403, api.CSRFHeader},
		{"wrong CSRF token", map[string]string{api.CSRFHeader: "x" + b.csrf[1:], "Origin": e.url}, 403, api.CSRFHeader},
		{"foreign Origin", map[string]string{api.CSRFHeader: b.csrf, "Origin": "http://evil.example"}, 403, "Origin"},
		{"foreign port", map[string]string{api.CSRFHeader: b.csrf, "Origin": "http://127.0.0.1:1"}, 403, "Origin"},
		{"null Origin", map[string]string{api.CSRFHeader: b.csrf, "Origin": "null"}, 403, "Origin"},
		{"cross-site fetch", map[string]string{api.CSRFHeader: b.csrf, "Sec-Fetch-Site": "cross-site"}, 403, "Sec-Fetch-Site"},
		{"same-site is not same-origin", map[string]string{api.CSRFHeader: b.csrf, "Sec-Fetch-Site": "same-site"}, 403, "Sec-Fetch-Site"},
		{"token and own Origin", map[string]string{api.CSRFHeader: b.csrf, "Origin": e.url, "Sec-Fetch-Site": "same-origin"}, 200, ""},
		{"token without Origin (not a browser)", map[string]string{api.CSRFHeader: b.csrf}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.do("POST", path, body, tt.header)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.status == 403 {
				if got := decodeErr(t, r); got.Error.Code != "forbidden" || got.Error.Field != tt.field {
					t.Fatalf("error %+v, want forbidden on %s", got.Error, tt.field)
				}
			}
		})
	}
	// Reads need no CSRF token; a bearer token needs none for changes,
	// from any Origin.
	if r := b.do("GET", "/api/v1/agents/a", nil, map[string]string{"Origin": "http://evil.example"}); r.status != 200 {
		t.Fatalf("cookie GET: %d %s", r.status, r.body)
	}
	if r := e.doWith("POST", path, writeToken, body, map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}); r.status != 200 {
		t.Fatalf("bearer POST with a foreign Origin: %d %s", r.status, r.body)
	}
	// Signing in from another origin's page (login CSRF) is refused too.
	if r := e.doWith("POST", "/api/v1/session", "", map[string]string{"token": readToken}, map[string]string{"Origin": "http://evil.example"}); r.status != 403 {
		t.Fatalf("cross-origin sign-in: %d %s", r.status, r.body)
	}
	// No CORS: nothing grants another origin the answer.
	r := b.do("GET", "/api/v1/session", nil, map[string]string{"Origin": "http://evil.example"})
	for k := range r.header {
		if strings.HasPrefix(k, "Access-Control-") {
			t.Fatalf("CORS header %s on a cookie request", k)
		}
	}
}

// An Authorization header wins over the cookie: a wrong bearer token is
// 401 even with a good cookie.
func TestSessionBearerWins(t *testing.T) {
	e := newEnv(t)
	b := e.signIn(map[string]string{"token": writeToken})
	r := e.doWith("GET", "/api/v1/customers", "nope", nil, map[string]string{"Cookie": b.cookie.Name + "=" + b.cookie.Value})
	if r.status != 401 {
		t.Fatalf("bad bearer + good cookie: %d", r.status)
	}
}

func TestSessionExpiry(t *testing.T) {
	clk := newClock()
	e := newEnv(t, func(c *api.Config) { c.Now = clk.now })
	b := e.signIn(map[string]string{"token": readToken})
	if want := clk.now().Add(api.DefaultSessionIdle); !b.who.Expires.Equal(want) {
		t.Fatalf("expires %v, want %v", b.who.Expires, want)
	}
	// Used within the idle time, it lives on, up to its lifetime.
	for used := time.Duration(0); used+11*time.Hour < api.DefaultSessionLifetime; used += 11 * time.Hour {
		clk.add(11 * time.Hour)
		if r := b.do("GET", "/api/v1/customers", nil, nil); r.status != 200 {
			t.Fatalf("after %v of use: %d %s", used, r.status, r.body)
		}
	}
	clk.add(11 * time.Hour) // past the lifetime
	r := b.do("GET", "/api/v1/customers", nil, nil)
	if r.status != 401 {
		t.Fatalf("past the lifetime: %d", r.status)
	}
	if c := sessionCookie(t, r.header); c == nil || c.MaxAge >= 0 {
		t.Fatalf("an expired session's cookie is not cleared: %+v", c)
	}

	idle := e.signIn(map[string]string{"token": readToken})
	clk.add(api.DefaultSessionIdle - time.Second)
	if r := idle.do("GET", "/api/v1/session", nil, nil); r.status != 200 {
		t.Fatalf("just inside the idle time: %d", r.status)
	}
	clk.add(api.DefaultSessionIdle)
	if r := idle.do("GET", "/api/v1/session", nil, nil); r.status != 401 {
		t.Fatalf("idle past the timeout: %d", r.status)
	}
	// Expired sessions are not guesses: the address is not throttled.
	for range 20 {
		if r := idle.do("GET", "/api/v1/customers", nil, nil); r.status != 401 {
			t.Fatalf("stale cookie: %d", r.status)
		}
	}
	e.signIn(map[string]string{"token": readToken})
}

func TestSessionSignOut(t *testing.T) {
	e := newEnv(t)
	b := e.signIn(map[string]string{"token": readToken})
	if r := b.do("DELETE", "/api/v1/session", nil, nil); r.status != 403 {
		t.Fatalf("sign out without the CSRF token: %d", r.status)
	}
	r := b.change("DELETE", "/api/v1/session", nil)
	if r.status != 204 {
		t.Fatalf("sign out: %d %s", r.status, r.body)
	}
	if c := sessionCookie(t, r.header); c == nil || c.MaxAge >= 0 || c.Value != "" {
		t.Fatalf("cookie not cleared: %+v", c)
	}
	if r := b.do("GET", "/api/v1/session", nil, nil); r.status != 401 {
		t.Fatalf("after sign out: %d", r.status)
	}
	if r := e.do("DELETE", "/api/v1/session", readToken, nil); r.status != 409 {
		t.Fatalf("sign out with a bearer token: %d", r.status)
	}
}

func TestSessionLimits(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.MaxSessions = 40 })
	// One credential keeps at most 32: the one unused longest goes.
	first := e.signIn(map[string]string{"token": readToken})
	for range 32 {
		e.signIn(map[string]string{"token": readToken})
	}
	if r := first.do("GET", "/api/v1/session", nil, nil); r.status != 401 {
		t.Fatalf("the 33rd session of one token left the first alive: %d", r.status)
	}
	for range 8 {
		e.signIn(map[string]string{"token": writeToken})
	}
	r := e.doWith("POST", "/api/v1/session", "", map[string]string{"token": writeToken}, nil)
	if r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Fatalf("past max_sessions: %d %s", r.status, r.body)
	}
}

func TestIndex(t *testing.T) {
	e := newEnv(t)
	noRedirect := *e.http
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, _ := http.NewRequest("GET", e.url+"/", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/wallboard" {
		t.Fatalf("browser at /: %d Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	for _, accept := range []string{"", "*/*", "application/json", "text/html;q=0"} {
		r := e.doWith("GET", "/", "", nil, map[string]string{"Accept": accept})
		var idx map[string]string
		if r.status != 200 || json.Unmarshal(r.body, &idx) != nil || idx["openapi"] != "/api/v1/openapi.json" || idx["wallboard"] != "/wallboard" {
			t.Fatalf("Accept %q: %d %s", accept, r.status, r.body)
		}
	}
}

// An open stream keeps its session in use, and ends when the session
// does (here: past its lifetime, noticed at a heartbeat).
func TestSessionStreamEndsWithSession(t *testing.T) {
	clk := newClock()
	e := newEnv(t, func(c *api.Config) { c.Now = clk.now; c.Heartbeat = time.Millisecond })
	b := e.signIn(map[string]string{"token": readToken})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/api/v1/events", nil)
	req.AddCookie(b.cookie)
	res, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	s := &sse{t: t, res: res, r: bufio.NewReader(res.Body), cancel: cancel}
	s.block() // the opening comment
	if ping := s.block(); ping != ": ping" {
		t.Fatalf("want a heartbeat, got %q", ping)
	}
	clk.add(api.DefaultSessionLifetime)
	if _, err := io.ReadAll(s.r); err != nil {
		t.Fatalf("stream did not end with its session: %v", err)
	}
	if r := b.do("GET", "/api/v1/session", nil, nil); r.status != 401 {
		t.Fatalf("session after its lifetime: %d", r.status)
	}
}
