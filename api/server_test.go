package api_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/hotline-dev/hotline/api"
)

type fakeCalls struct {
	calls any
	err   error
}

func (f fakeCalls) ListCalls(context.Context) (any, error) { return f.calls, f.err }

type liveCall struct {
	CallID string `json:"call_id"`
	Caller string `json:"caller"`
}

func TestHealthAndCalls(t *testing.T) {
	down := errors.New("database down")
	tests := []struct {
		name   string
		opt    option
		path   string
		status int
		body   string
	}{
		{"healthy store", nil, "/healthz", 200, `{"status":"ok"}` + "\n"},
		{"unhealthy", func(c *api.Config) { c.Health = func(context.Context) error { return down } }, "/healthz", 503,
			`{"error":{"code":"unavailable","message":"unhealthy"}}` + "\n"},
		{"no calls provider", nil, "/api/v1/calls", 503,
			`{"error":{"code":"unavailable","message":"live calls are not available in this process"}}` + "\n"},
		{"calls", func(c *api.Config) {
			c.Calls = fakeCalls{calls: []liveCall{{CallID: "a@b", Caller: "+84912345678"}}}
		}, "/api/v1/calls", 200, `{"items":[{"call_id":"a@b","caller":"+84912345678"}]}` + "\n"},
		{"no calls", func(c *api.Config) { c.Calls = fakeCalls{} }, "/api/v1/calls", 200, `{"items":[]}` + "\n"},
		{"typed nil slice", func(c *api.Config) { c.Calls = fakeCalls{calls: []liveCall(nil)} }, "/api/v1/calls", 200, `{"items":[]}` + "\n"},
		{"calls provider fails", func(c *api.Config) { c.Calls = fakeCalls{err: down} }, "/api/v1/calls", 500,
			`{"error":{"code":"internal","message":"internal error"}}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []option
			if tt.opt != nil {
				opts = append(opts, tt.opt)
			}
			e := newEnv(t, opts...)
			r := e.do("GET", tt.path, readToken, nil)
			if r.status != tt.status || string(r.body) != tt.body {
				t.Fatalf("got %d %s, want %d %s", r.status, r.body, tt.status, tt.body)
			}
		})
	}
}

// TestHealthUsesStore: with no Health func, /healthz pings the store, so a
// closed store makes it unhealthy.
func TestHealthUsesStore(t *testing.T) {
	e := newEnv(t)
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", "/healthz", "", nil); r.status != http.StatusServiceUnavailable {
		t.Fatalf("healthz with a closed store: %d %s", r.status, r.body)
	}
}
