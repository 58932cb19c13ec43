package queue

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/hotline-dev/hotline/config"
)

func TestHTTPRoutes(t *testing.T) {
	g := newRig(t, map[string]config.Queue{"q": {}, "sales": {JoinEmpty: true}}, agents("a", "b"))
	r := chi.NewRouter()
	Routes(g.s)(r)
	srv := httptest.NewServer(r)
	defer srv.Close()

	do := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if ct := res.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s %s: content type %q", method, path, ct)
		}
		var v map[string]any
		if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, v
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
			if v["id"] != "a" || v["activity"] != "idle" {
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
	g.join("c1", "q", "vip")
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
}

// TestOpenAPIPathsCoverRoutes: every route Routes registers is described in
// OpenAPIPaths (under /api/v1) and nothing else is.
func TestOpenAPIPathsCoverRoutes(t *testing.T) {
	g := newRig(t, one(config.Queue{}), agents("a"))
	r := chi.NewRouter()
	Routes(g.s)(r)
	routed := map[string]bool{}
	chi.Walk(r, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routed[strings.ToLower(method)+" /api/v1"+route] = true
		return nil
	})
	described := map[string]bool{}
	for path, item := range OpenAPIPaths() {
		for method := range item.(map[string]any) {
			described[method+" "+path] = true
		}
	}
	if len(routed) != 5 {
		t.Fatalf("walked %d routes", len(routed))
	}
	for k := range routed {
		if !described[k] {
			t.Errorf("route %s not described", k)
		}
	}
	for k := range described {
		if !routed[k] {
			t.Errorf("described %s not routed", k)
		}
	}
}
