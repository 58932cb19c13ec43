package ivr

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/store"
)

const httpFlow = `
flow: t
languages: [en]
nodes:
  s: {type: set, vars: {order: "12/3 4"}, next: h}
  h:
    type: http
    lookup: orders
    assign: {status: status, eta: delivery.eta, first: items.0.sku, n: count, ok: paid}
    next: good
    on_failure: bad
  good: {type: hangup}
  bad: {type: hangup}
`

// runInstant runs a flow with instant prompts and no digits on the real clock.
func runInstant(t *testing.T, cfg Config, flow string) Result {
	t.Helper()
	if cfg.Prompts == nil {
		cfg.Prompts = lib{}
	}
	e, err := NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	call := newFakeCall("+84281234567")
	call.instant = true
	return e.Run(t.Context(), call, mustFlow(t, flow))
}

func TestHTTPLookup(t *testing.T) {
	defer goleak.VerifyNone(t)
	t.Setenv("HOTLINE_TEST_TOKEN", "s3cret")
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.EscapedPath(), "/hang"):
			// Only the hang-up case signals: the timeout case also hangs,
			// and its arrival must not look like the hang-up case's.
			if strings.HasPrefix(r.URL.EscapedPath(), "/hangup/") {
				arrived <- struct{}{}
			}
			select { // answers only after the client gave up
			case <-r.Context().Done():
			case <-release:
			}
			return
		case r.Header.Get("Authorization") != "s3cret":
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		switch r.URL.EscapedPath() {
		case "/ok/12%2F3%204":
			io.WriteString(w, `{"status":"shipped","delivery":{"eta":"2026-11-25"},"items":[{"sku":"A1"}],"count":3,"paid":true}`)
		case "/post":
			b, _ := io.ReadAll(r.Body)
			if r.Method != http.MethodPost || !strings.Contains(string(b), `"order":"12/3 4"`) {
				http.Error(w, "bad post", http.StatusBadRequest)
				return
			}
			io.WriteString(w, `{"status":"posted","delivery":{"eta":"x"},"items":[{"sku":"B"}],"count":1.5,"paid":false}`)
		case "/missing/12%2F3%204":
			io.WriteString(w, `{"status":"shipped"}`)
		case "/null/12%2F3%204":
			io.WriteString(w, `{"status":null,"delivery":{"eta":"x"},"items":[{"sku":"B"}],"count":1,"paid":false}`)
		case "/notjson/12%2F3%204":
			io.WriteString(w, `<html>`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	defer close(release)
	lookup := func(path, method string, timeout time.Duration) map[string]config.Lookup {
		return map[string]config.Lookup{"orders": {URL: srv.URL + path, Method: method, Timeout: timeout,
			Headers: map[string]string{"Authorization": "env:HOTLINE_TEST_TOKEN"}}}
	}
	tests := []struct {
		name, path, method string
		timeout            time.Duration
		want               string
		vars               map[string]string
	}{
		{"success with nested and indexed paths", "/ok/{order}", "GET", 0, "s h good",
			map[string]string{"status": "shipped", "eta": "2026-11-25", "first": "A1", "n": "3", "ok": "true"}},
		{"POST sends the variables", "/post", "POST", 0, "s h good", map[string]string{"status": "posted", "n": "1.5", "ok": "false"}},
		{"not found", "/nope/{order}", "GET", 0, "s h bad", map[string]string{"status": ""}},
		{"missing field", "/missing/{order}", "GET", 0, "s h bad", map[string]string{"status": ""}},
		{"null field", "/null/{order}", "GET", 0, "s h bad", nil},
		{"not JSON", "/notjson/{order}", "GET", 0, "s h bad", nil},
		{"unset placeholder", "/ok/{nothing}", "GET", 0, "s h bad", nil},
		{"timeout", "/hang/{order}", "GET", 50 * time.Millisecond, "s h bad", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runInstant(t, Config{Lookups: lookup(tt.path, tt.method, tt.timeout)}, httpFlow)
			if got := pathString(res); got != tt.want || res.Outcome != store.OutcomeCompleted {
				t.Fatalf("path %q outcome %q, want %q", got, res.Outcome, tt.want)
			}
			for k, v := range tt.vars {
				if res.Vars[k] != v {
					t.Errorf("%s = %q, want %q", k, res.Vars[k], v)
				}
			}
		})
	}
	t.Run("unknown lookup", func(t *testing.T) {
		if got := pathString(runInstant(t, Config{}, httpFlow)); got != "s h bad" {
			t.Errorf("path %q", got)
		}
	})
	t.Run("caller hangs up during the lookup", func(t *testing.T) {
		e, _ := NewEngine(Config{Prompts: lib{}, Lookups: lookup("/hangup/{order}", "GET", time.Minute)})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		call := newFakeCall("+1")
		call.instant = true
		var wg sync.WaitGroup
		wg.Go(func() {
			select {
			case <-arrived:
				cancel() // the caller hangs up while the lookup is waiting
			case <-ctx.Done():
			}
		})
		start := time.Now()
		res := e.Run(ctx, call, mustFlow(t, httpFlow))
		wg.Wait()
		if time.Since(start) > 30*time.Second {
			t.Error("the lookup was not cancelled with the call")
		}
		if res.Outcome != store.OutcomeAbandonedIVR || pathString(res) != "s h" {
			t.Errorf("result %q %q", pathString(res), res.Outcome)
		}
	})
}

func TestEscapeAll(t *testing.T) {
	if got := escapeAll("a b/ç?&=~.-_9"); got != "a%20b%2F%C3%A7%3F%26%3D~.-_9" {
		t.Errorf("escapeAll = %q", got)
	}
}
