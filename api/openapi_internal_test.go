package api

import (
	"net/http"
	"slices"
	"testing"

	"github.com/go-chi/chi/v5"
)

// TestCheckSpecFindsDifferences: a route without a description and a
// described operation without a route are both reported, and nothing else.
func TestCheckSpecFindsDifferences(t *testing.T) {
	r := chi.NewRouter()
	r.Route(Prefix, func(r chi.Router) {
		r.Get("/queues", func(http.ResponseWriter, *http.Request) {})
		r.Get("/agents", func(http.ResponseWriter, *http.Request) {})
	})
	tests := []struct {
		name           string
		spec           string
		missing, extra []string
	}{
		{"undocumented route", `{"paths": {"/api/v1/agents": {"get": {}}}}`, []string{"GET /api/v1/queues"}, nil},
		{"documented", `{"paths": {"/api/v1/agents": {"get": {}}, "/api/v1/queues": {"get": {}, "parameters": []}}}`, nil, nil},
		{"described, not routed", `{"paths": {"/api/v1/agents": {"get": {}}, "/api/v1/queues": {"get": {}, "post": {}}}}`,
			nil, []string{"POST /api/v1/queues"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			missing, extra, err := checkSpec([]byte(tt.spec), r)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(missing, tt.missing) || !slices.Equal(extra, tt.extra) {
				t.Fatalf("missing %v extra %v, want %v and %v", missing, extra, tt.missing, tt.extra)
			}
		})
	}
}
