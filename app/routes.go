package app

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"
)

// routes is the whole HTTP surface: the API (token-protected), Prometheus
// metrics, and the demo order service when the default lookup points at it.
func (a *App) routes() http.Handler {
	r := chi.NewRouter()
	r.Handle("/metrics", a.metrics.handler())
	if a.usesDemoOrders() {
		r.Mount("/demo", demoOrders())
	}
	r.Mount("/", a.api)
	return r
}

// usesDemoOrders is true when a lookup points at this server's /demo/ path.
func (a *App) usesDemoOrders() bool {
	for _, l := range a.cfg.Lookups {
		u, err := url.Parse(l.URL)
		if err == nil && u.Host == a.cfg.HTTP.Addr && strings.HasPrefix(u.Path, "/demo/") {
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
