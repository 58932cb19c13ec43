package app

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/web"
)

// routes is the whole HTTP surface: the API (token-protected), Prometheus
// metrics, the wallboard's page (package web; it reads the API like any
// client), and the demo order service when the default lookup points at it.
func (a *App) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(a.metrics.instrument)
	r.Handle("/metrics", a.metrics.handler())
	if a.usesDemoOrders() {
		r.Mount("/demo", headAsGet(demoOrders()))
	}
	r.Mount(web.Prefix, web.Handler()) // before the API's catch-all
	r.Mount(web.AgentPrefix, web.AgentHandler())
	r.Mount("/", a.api)
	return r
}

// headAsGet answers HEAD with the GET route of the same path (net/http
// drops the body). chi's middleware.GetHead asks the parent router, whose
// catch-all API mount claims every path, so it never switches; the mounted
// router itself is asked here.
func headAsGet(sub *chi.Mux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rctx := chi.RouteContext(r.Context()); r.Method == http.MethodHead && rctx != nil {
			path := rctx.RoutePath
			if path == "" {
				path = r.URL.Path
			}
			if !sub.Match(chi.NewRouteContext(), http.MethodHead, path) && sub.Match(chi.NewRouteContext(), http.MethodGet, path) {
				rctx.RouteMethod = http.MethodGet
			}
		}
		sub.ServeHTTP(w, r)
	})
}

// usesDemoOrders is true when a lookup points at this server's /demo/
// path: written as a path (the default), or as a URL naming http.addr.
func (a *App) usesDemoOrders() bool {
	self, err := url.Parse(config.SelfURL(a.HTTPAddr().String()))
	if err != nil {
		return false
	}
	for _, l := range a.lookups {
		u, err := url.Parse(l.URL)
		if err == nil && (u.Host == self.Host || u.Host == a.cfg.HTTP.Addr) && strings.HasPrefix(u.Path, "/demo/") {
			return true
		}
	}
	return false
}

// redactURL hides a password in a database URL before it is logged.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
