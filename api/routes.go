package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
)

func (s *Server) routes() *chi.Mux {
	r := chi.NewRouter()
	r.Use(s.recoverer, s.accessLog, s.headAsGet)
	r.NotFound(s.notFound)
	r.MethodNotAllowed(s.methodNotAllowed)
	r.Get("/livez", s.livez)
	r.Get("/readyz", s.readyz)
	r.Get("/healthz", s.readyz) // the older name: an alias of /readyz
	r.Get("/", s.index)
	r.Route(Prefix, func(r chi.Router) {
		r.Get("/openapi.json", s.openapi)
		r.With(s.limitBody, s.deadline).Post("/session", s.signIn)
		r.Group(func(r chi.Router) {
			r.Use(s.authenticateAnyScope, s.deadline)
			r.Get("/session", s.whoAmI)
			r.Delete("/session", s.signOut)
		})
		r.Group(func(r chi.Router) {
			r.Use(s.authenticate, s.limitBody)
			r.Get("/events", s.streamEvents) // a stream: no deadline
			r.Group(func(r chi.Router) {
				r.Use(s.deadline, s.idempotent)
				r.Route("/customers", s.customerRoutes)
				r.Route("/tickets", s.ticketRoutes)
				r.Route("/interactions", s.interactionRoutes)
				r.Route("/callbacks", s.callbackRoutes)
				r.Route("/webhooks", s.webhookRoutes)
				r.Get("/calls", s.listCalls)
				r.Get("/recordings/{id}", s.getRecording)
				s.queueRoutes(r)
			})
		})
	})
	return r
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, &Error{Kind: ErrNotFound, Message: "no route " + r.URL.Path})
}

// methodNotAllowed answers 405 with the Allow header listing what the path does accept.
func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} {
		method := m
		if m == "HEAD" {
			method = "GET"
		}
		for _, pattern := range s.patterns[method] {
			if patternMatches(pattern, r.URL.Path) {
				allow = append(allow, m)
				break
			}
		}
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	s.writeError(w, r, &Error{Kind: ErrMethodNotAllowed, Message: r.Method + " is not allowed on " + r.URL.Path})
}

// headAsGet serves HEAD with the GET route of the same path; net/http drops
// the body of a HEAD response. (chi's middleware.GetHead cannot see through
// mounted subrouters.) chi routes on its context's RouteMethod, which a
// parent router (the App's, that mounts this one) has already set to HEAD:
// it is switched too, or the request would still answer 405. The answer is
// complete once its headers are written: the request's context ends then,
// so a streaming GET (the SSE event stream) returns instead of streaming
// into a body net/http discards, holding the kept-alive connection.
func (s *Server) headAsGet(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			for _, p := range s.patterns["GET"] {
				if patternMatches(p, r.URL.Path) {
					ctx, cancel := context.WithCancel(r.Context())
					defer cancel()
					r = r.Clone(ctx)
					r.Method = http.MethodGet
					if rctx := chi.RouteContext(r.Context()); rctx != nil && rctx.RouteMethod != "" {
						rctx.RouteMethod = http.MethodGet
					}
					w = &headWriter{ResponseWriter: w, done: cancel}
					break
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// headWriter ends a HEAD request's context once the headers are out.
type headWriter struct {
	http.ResponseWriter
	done  context.CancelFunc
	wrote bool
}

func (h *headWriter) WriteHeader(code int) {
	h.ResponseWriter.WriteHeader(code)
	if code >= 200 && !h.wrote {
		h.wrote = true
		h.done()
	}
}

func (h *headWriter) Write(p []byte) (int, error) {
	if !h.wrote {
		h.WriteHeader(http.StatusOK)
	}
	return h.ResponseWriter.Write(p)
}

// Unwrap lets http.NewResponseController reach Flush and deadlines.
func (h *headWriter) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// routePatterns lists the route patterns by method (chi's own Match says
// yes to every method on a mounted subrouter, so it cannot fill Allow).
func routePatterns(r chi.Routes) map[string][]string {
	out := map[string][]string{}
	_ = chi.Walk(r, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		out[method] = append(out[method], cleanRoute(route))
		return nil
	})
	return out
}

// cleanRoute turns chi's walked pattern into the documented path:
// "/api/v1/customers/" → "/api/v1/customers".
func cleanRoute(route string) string {
	route = strings.TrimSuffix(strings.ReplaceAll(route, "/*/", "/"), "/*")
	if len(route) > 1 {
		route = strings.TrimSuffix(route, "/")
	}
	return route
}

// patternMatches reports whether path fits pattern, where a {param}
// segment matches any one non-empty segment.
func patternMatches(pattern, path string) bool {
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return false
	}
	for i := range ps {
		if strings.HasPrefix(ps[i], "{") && xs[i] != "" {
			continue
		}
		if ps[i] != xs[i] {
			return false
		}
	}
	return true
}
