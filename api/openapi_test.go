package api_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/hotline-dev/hotline/api"
)

// TestOpenAPIMatchesRoutes walks chi's route tree and fails if a route is
// not described or a described operation has no route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t)
	missing, extra, err := e.api.CheckSpec()
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("routes without description: %v\ndescribed without route: %v", missing, extra)
	}
	var walked int
	_ = chi.Walk(e.api.Router(), func(string, string, http.Handler, ...func(http.Handler) http.Handler) error {
		walked++
		return nil
	})
	if walked < 15 {
		t.Fatalf("walked only %d routes: the check would pass vacuously", walked)
	}
}

// TestOpenAPIMounts: a mounted route must bring its description.
func TestOpenAPIMounts(t *testing.T) {
	queues := func(r chi.Router) {
		r.Get("/queues", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	}
	undocumented := api.New(api.Config{Store: openSQLite(t), Mounts: []api.Mount{{Routes: queues}}})
	missing, extra, err := undocumented.CheckSpec()
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) != 1 || missing[0] != "GET /api/v1/queues" || len(extra) != 0 {
		t.Fatalf("missing %v extra %v, want exactly GET /api/v1/queues missing", missing, extra)
	}

	e := newEnv(t, func(c *api.Config) {
		c.Mounts = []api.Mount{{Routes: queues, Paths: map[string]any{
			"/api/v1/queues": map[string]any{"get": map[string]any{"summary": "Queues", "responses": map[string]any{"204": map[string]any{"description": "ok"}}}},
		}}}
	})
	if missing, extra, err := e.api.CheckSpec(); err != nil || len(missing)+len(extra) != 0 {
		t.Fatalf("documented mount: missing %v extra %v err %v", missing, extra, err)
	}
	if r := e.do("GET", "/api/v1/queues", "", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("mounted route without token: %d, want 401", r.status)
	}
	if r := e.do("GET", "/api/v1/queues", readToken, nil); r.status != http.StatusNoContent {
		t.Fatalf("mounted route: %d", r.status)
	}
	if r := e.do("POST", "/api/v1/queues", readToken, nil); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("POST on mounted GET route: %d", r.status)
	}
}

// TestOpenAPIServed checks the document is public, is OpenAPI 3, and every
// $ref points at a component that exists.
func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/api/v1/openapi.json", "", nil)
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d content type %q", r.status, r.header.Get("Content-Type"))
	}
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components map[string]map[string]json.RawMessage `json:"components"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") || len(doc.Paths) == 0 {
		t.Fatalf("openapi %q with %d paths", doc.OpenAPI, len(doc.Paths))
	}
	refs := regexp.MustCompile(`"\$ref":\s*"#/components/(\w+)/(\w+)"`).FindAllStringSubmatch(string(r.body), -1)
	if len(refs) < 20 {
		t.Fatalf("only %d $refs found", len(refs))
	}
	for _, m := range refs {
		if _, ok := doc.Components[m[1]][m[2]]; !ok {
			t.Errorf("dangling $ref #/components/%s/%s", m[1], m[2])
		}
	}
	for path, item := range doc.Paths {
		for method, raw := range item {
			var o struct {
				OperationID string `json:"operationId"`
			}
			if err := json.Unmarshal(raw, &o); err != nil || o.OperationID == "" {
				t.Errorf("%s %s has no operationId", method, path)
			}
		}
	}
}
