package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/api"
	"github.com/hotline-dev/hotline/internal/testports"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
)

// toolPorts are the ports this package's tests name before the process
// that binds them runs (a private PostgreSQL's): this package's range in
// internal/testports, below the kernel's ephemeral range.
var toolPorts = testports.New(13800, 13899)

type fakeCalls struct {
	calls []api.LiveCall
	err   error
}

func (f fakeCalls) ListCalls(context.Context) ([]api.LiveCall, error) { return f.calls, f.err }

func TestCalls(t *testing.T) {
	down := errors.New("database down")
	tests := []struct {
		name   string
		opt    option
		path   string
		status int
		body   string
	}{
		{"no calls provider", nil, "/api/v1/calls", 503,
			`{"error":{"code":"unavailable","message":"live calls are not available in this process"}}` + "\n"},
		{"calls", func(c *api.Config) {
			c.Calls = fakeCalls{calls: []api.LiveCall{{CallID: "a@b", Caller: "+84912345678", Called: "100", Flow: "support",
				StartedAt: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)}}}
		}, "/api/v1/calls", 200, `{"items":[{"call_id":"a@b","caller":"+84912345678","called":"100","flow":"support","started_at":"2026-12-02T09:00:00Z"}]}` + "\n"},
		{"no calls", func(c *api.Config) { c.Calls = fakeCalls{} }, "/api/v1/calls", 200, `{"items":[]}` + "\n"},
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

// readyBody is the /readyz body.
type readyBody struct {
	Status string   `json:"status"`
	Failed []string `json:"failed"`
	Checks map[string]struct {
		Status string `json:"status"`
		Error  string `json:"error"`
	} `json:"checks"`
}

// /livez checks nothing; /readyz (and /healthz) runs every check side by
// side within the deadline and names the ones that failed, with a message
// only when the check gave one meant for people.
func TestHealthEndpoints(t *testing.T) {
	hang := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	ok := func(context.Context) error { return nil }
	noFlows := func(context.Context) error { return &api.Error{Kind: api.ErrUnavailable, Message: "no flows loaded"} }
	secret := func(context.Context) error { return errors.New("dial tcp 10.1.2.3:5432: connection refused") }
	tests := []struct {
		name   string
		checks []api.Check
		status int
		failed []string
		errs   map[string]string
	}{
		{"all ok", []api.Check{{"database", ok}, {"flows", ok}}, 200, nil, nil},
		{"database hangs", []api.Check{{"database", hang}, {"flows", ok}}, 503, []string{"database"},
			map[string]string{"database": "no answer within 200ms"}},
		{"two fail, in order", []api.Check{{"database", secret}, {"flows", noFlows}}, 503, []string{"database", "flows"},
			map[string]string{"database": "failed (the server log says why)", "flows": "no flows loaded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *api.Config) {
				c.Ready, c.ReadyTimeout, c.RetryAfter = tt.checks, 200*time.Millisecond, 3*time.Second
			})
			for _, path := range []string{"/readyz", "/healthz"} {
				t0 := time.Now()
				r := e.do("GET", path, "", nil)
				if took := time.Since(t0); took > 2*time.Second {
					t.Errorf("%s took %v; the checks have 200ms", path, took)
				}
				var b readyBody
				if err := json.Unmarshal(r.body, &b); err != nil {
					t.Fatalf("%s: %v: %s", path, err, r.body)
				}
				if r.status != tt.status || !slices.Equal(b.Failed, tt.failed) || len(b.Checks) != len(tt.checks) {
					t.Fatalf("%s = %d %s; want %d failing %v", path, r.status, r.body, tt.status, tt.failed)
				}
				for name, msg := range tt.errs {
					if got := b.Checks[name]; got.Status != "failed" || got.Error != msg {
						t.Errorf("%s check %s = %+v; want failed %q", path, name, got, msg)
					}
				}
				if ra := r.header.Get("Retry-After"); (tt.status == 503) != (ra == "3") {
					t.Errorf("%s Retry-After = %q with status %d", path, ra, r.status)
				}
				if strings.Contains(string(r.body), "10.1.2.3") {
					t.Errorf("%s shows an internal address: %s", path, r.body)
				}
			}
			if r := e.do("GET", "/livez", "", nil); r.status != 200 || string(r.body) != `{"status":"ok"}`+"\n" {
				t.Fatalf("livez = %d %s; want 200 whatever the checks say", r.status, r.body)
			}
		})
	}
}

// With no checks configured, /readyz pings the store, so a closed store
// makes it fail.
func TestReadyUsesStore(t *testing.T) {
	e := newEnv(t)
	if r := e.do("GET", "/readyz", "", nil); r.status != http.StatusOK {
		t.Fatalf("readyz with an open store: %d %s", r.status, r.body)
	}
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", "/readyz", "", nil); r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), `"failed":["database"]`) {
		t.Fatalf("readyz with a closed store: %d %s", r.status, r.body)
	}
}

// While the database is stopped or hung every API call answers 503 with
// Retry-After within the request deadline: not a 500, not a hang.
func TestDatabaseOutageIs503(t *testing.T) {
	pg := pgtest.StartCluster(t, toolPorts)
	st, err := postgres.Open(t.Context(), pg.URL(), store.Options{DefaultCountry: "VN", Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, st, func(c *api.Config) { c.RequestTimeout, c.RetryAfter = 500*time.Millisecond, 2*time.Second })
	t.Cleanup(func() { st.Close() })
	check := func(phase string) {
		t.Helper()
		reqs := []struct {
			method, path, token string
			body                any
		}{
			{"GET", "/api/v1/customers", readToken, nil}, {"GET", "/api/v1/customers/1", readToken, nil},
			{"GET", "/api/v1/tickets", readToken, nil}, {"GET", "/api/v1/interactions", readToken, nil},
			{"GET", "/api/v1/customers/1/timeline", readToken, nil},
			{"POST", "/api/v1/customers", writeToken, map[string]any{"name": "x", "phones": []string{"0912345678"}}},
		}
		for _, q := range reqs {
			t0 := time.Now()
			r := e.do(q.method, q.path, q.token, q.body)
			if took := time.Since(t0); r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "2" ||
				!strings.Contains(string(r.body), `"code":"unavailable"`) || took > 3*time.Second {
				t.Errorf("%s: %s %s = %d (Retry-After %q) after %v: %s; want 503 unavailable, Retry-After 2, within the 500ms deadline",
					phase, q.method, q.path, r.status, r.header.Get("Retry-After"), took, r.body)
			}
		}
	}
	if r := e.do("GET", "/api/v1/customers", readToken, nil); r.status != http.StatusOK {
		t.Fatalf("with the database up: %d %s", r.status, r.body)
	}
	pg.Freeze()
	check("hung")
	pg.Thaw()
	pg.Stop()
	check("stopped")
	pg.Start()
	if r := e.do("GET", "/api/v1/customers", readToken, nil); r.status != http.StatusOK {
		t.Fatalf("with the database back: %d %s", r.status, r.body)
	}
}
