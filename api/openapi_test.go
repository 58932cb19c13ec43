package api_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/store"
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

// TestOpenAPISchemasMatchVoiceModel: every JSON field of the voice model
// (store.VoiceDetails, store.CallLeg) and of an agent (queue.AgentInfo) is
// described, and nothing else is
// (the schemas forbid additional properties, so a client generated from
// them would reject or drop an undescribed field).
func TestOpenAPISchemasMatchVoiceModel(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/api/v1/openapi.json", "", nil)
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	for name, typ := range map[string]reflect.Type{"VoiceDetails": reflect.TypeFor[store.VoiceDetails](), "CallLeg": reflect.TypeFor[store.CallLeg](),
		"Agent": reflect.TypeFor[queue.AgentInfo]()} {
		props := doc.Components.Schemas[name].Properties
		fields := map[string]bool{}
		for f := range typ.Fields() {
			tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if tag != "" && tag != "-" {
				fields[tag] = true
				if _, ok := props[tag]; !ok {
					t.Errorf("%s.%s (%s) is not in the OpenAPI schema", name, tag, f.Name)
				}
			}
		}
		for p := range props {
			if !fields[p] {
				t.Errorf("schema %s describes %q, which the model does not have", name, p)
			}
		}
	}
}

// TestOpenAPIConventions: every POST behind a token takes Idempotency-Key
// (with its 409 and 422), every PATCH with If-Match can answer 412, and
// the synced lists take updated_since and created_since.
func TestOpenAPIConventions(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/api/v1/openapi.json", "", nil)
	type param struct{ Name, In string }
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []param                    `json:"parameters"`
			Responses  map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	has := func(ps []param, name string) bool {
		for _, p := range ps {
			if p.Name == name {
				return true
			}
		}
		return false
	}
	posts := 0
	for path, item := range doc.Paths {
		for method, o := range item {
			switch {
			case method == "post" && path != "/api/v1/session":
				posts++
				if !has(o.Parameters, "Idempotency-Key") || o.Responses["409"] == nil || o.Responses["422"] == nil {
					t.Errorf("POST %s: no Idempotency-Key (or its 409/422)", path)
				}
			case has(o.Parameters, "If-Match") && o.Responses["412"] == nil:
				t.Errorf("%s %s takes If-Match but has no 412", method, path)
			}
		}
	}
	if posts < 8 {
		t.Fatalf("only %d POSTs described", posts)
	}
	for _, path := range []string{"/api/v1/customers", "/api/v1/tickets", "/api/v1/interactions"} {
		if g := doc.Paths[path]["get"]; !has(g.Parameters, "updated_since") || !has(g.Parameters, "created_since") || g.Responses["400"] == nil {
			t.Errorf("GET %s: no updated_since/created_since or 400", path)
		}
	}
	for _, path := range []string{"/api/v1/customers/{id}", "/api/v1/tickets/{id}"} {
		if !has(doc.Paths[path]["patch"].Parameters, "If-Match") {
			t.Errorf("PATCH %s takes no If-Match", path)
		}
	}
}
