package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/hotline-dev/hotline/web"
)

// TestEveryServedRouteIsDescribed walks the whole HTTP surface the process
// serves (app.routes): each mount is either the API, whose routes and
// methods must match the OpenAPI document exactly (api.CheckSpec walks its
// router), or one of the listed non-API surfaces (metrics, pages, the demo
// service), which the document deliberately leaves out (docs/api.md
// "OpenAPI"). A new mount fails here until it is one or the other.
func TestEveryServedRouteIsDescribed(t *testing.T) {
	cfg := testConfig(t)
	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	root, ok := a.routes().(chi.Routes)
	if !ok {
		t.Fatalf("app.routes is %T, not a chi router: the walk cannot see it", a.routes())
	}
	notAPI := map[string]bool{"/metrics": true, "/demo/*": true, web.Prefix + "/*": true, web.AgentPrefix + "/*": true}
	sawAPI := false
	err = chi.Walk(root, func(method, route string, h http.Handler, _ ...func(http.Handler) http.Handler) error {
		t.Logf("walked %s %s", method, route)
		switch {
		case route == "/*":
			sawAPI = true // the API mount (a.api is not a chi.Routes: checked below)
		case notAPI[route] || notAPI[strings.TrimSuffix(route, "/")+"/*"]:
		default:
			t.Errorf("%s %s is served but neither the API nor a listed non-API surface", method, route)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !sawAPI {
		t.Fatal("the API mount was not walked")
	}
	missing, extra, err := a.api.CheckSpec()
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("routes without description: %v\ndescribed without route: %v", missing, extra)
	}
}
