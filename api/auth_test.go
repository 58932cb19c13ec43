package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hotline-dev/hotline/api"
	"github.com/hotline-dev/hotline/config"
)

func TestAuth(t *testing.T) {
	t.Setenv("HOTLINE_TEST_TOKEN", "from-the-environment-42")
	e := newEnv(t, func(c *api.Config) {
		c.Tokens = append(c.Tokens,
			config.Token{Name: "env", Secret: "env:HOTLINE_TEST_TOKEN", Scope: "write"},
			config.Token{Name: "unset", Secret: "env:HOTLINE_TEST_UNSET", Scope: "write"}, // resolves to "": ignored
		)
	})
	tests := []struct {
		name, method, path string
		header             string // full Authorization value
		status             int
		code               string
	}{
		{"no token", "GET", "/api/v1/customers", "", 401, "unauthorized"},
		{"no token on events", "GET", "/api/v1/events", "", 401, "unauthorized"},
		{"no token on unknown route", "GET", "/api/v1/nothing", "", 404, "not_found"},
		{"wrong scheme", "GET", "/api/v1/customers", "Basic " + writeToken, 401, "unauthorized"},
		{"unknown token", "GET", "/api/v1/customers", "Bearer nope", 401, "unauthorized"},
		{"prefix of a token", "GET", "/api/v1/customers", "Bearer " + writeToken[:5], 401, "unauthorized"},
		{"empty env secret is not a token", "GET", "/api/v1/customers", "Bearer ", 401, "unauthorized"},
		{"read token HEAD", "HEAD", "/api/v1/customers", "Bearer " + readToken, 200, ""},
		{"read token reads", "GET", "/api/v1/customers", "Bearer " + readToken, 200, ""},
		{"scheme is case-insensitive", "GET", "/api/v1/customers", "bearer " + readToken, 200, ""},
		{"read token cannot write", "POST", "/api/v1/customers", "Bearer " + readToken, 403, "forbidden"},
		{"read token cannot patch", "PATCH", "/api/v1/tickets/1", "Bearer " + readToken, 403, "forbidden"},
		{"write token reads", "GET", "/api/v1/tickets", "Bearer " + writeToken, 200, ""},
		{"env: secret works", "GET", "/api/v1/interactions", "Bearer from-the-environment-42", 200, ""},
		{"literal env: is not the secret", "GET", "/api/v1/interactions", "Bearer env:HOTLINE_TEST_TOKEN", 401, "unauthorized"},
		{"openapi needs no token", "GET", "/api/v1/openapi.json", "", 200, ""},
		{"healthz needs no token", "GET", "/healthz", "", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, e.url+tt.path, strings.NewReader(`{"name":"x"}`))
			if err != nil {
				t.Fatal(err)
			}
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			res, err := e.http.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			if tt.status == 401 && !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without WWW-Authenticate: Bearer")
			}
			if tt.code != "" {
				r := resp{status: res.StatusCode, header: res.Header}
				r.body = readAll(t, res)
				if got := decodeErr(t, r); got.Error.Code != tt.code {
					t.Fatalf("code %q, want %q", got.Error.Code, tt.code)
				}
			}
		})
	}
}

func TestNoTokensConfiguredRefusesEverything(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.Tokens = nil })
	for _, tok := range []string{"", writeToken, "anything"} {
		if r := e.do("GET", "/api/v1/customers", tok, nil); r.status != http.StatusUnauthorized {
			t.Fatalf("token %q: status %d, want 401", tok, r.status)
		}
	}
}

// TestRateLimitPerToken uses a rate so low that the bucket cannot refill
// during the test: the first request passes, the second is refused, and
// another token is unaffected.
func TestRateLimitPerToken(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.RateLimit = 0.0001 })
	if r := e.do("GET", "/api/v1/customers", readToken, nil); r.status != http.StatusOK {
		t.Fatalf("first request: %d %s", r.status, r.body)
	}
	r := e.do("GET", "/api/v1/customers", readToken, nil)
	if r.status != http.StatusTooManyRequests || decodeErr(t, r).Error.Code != "rate_limited" || r.header.Get("Retry-After") == "" {
		t.Fatalf("second request: %d %v %s", r.status, r.header, r.body)
	}
	if r := e.do("GET", "/api/v1/customers", writeToken, nil); r.status != http.StatusOK {
		t.Fatalf("other token limited too: %d", r.status)
	}
}
