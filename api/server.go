// Package api is Hotline's HTTP API under /api/v1: customers, tickets and
// interactions of the ticket history (so email and chat systems share the
// phone channel's history), live calls, the Server-Sent Events stream, and
// the OpenAPI description. Every route except /healthz and
// /api/v1/openapi.json needs a bearer token from the configuration.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/store"
)

// Prefix is where the versioned API lives.
const Prefix = "/api/v1"

// Defaults for zero Config fields.
const (
	DefaultRateLimit    = 100     // requests/s per token
	DefaultMaxBodyBytes = 1 << 20 // 1 MiB
	DefaultHeartbeat    = 15 * time.Second
)

// CallLister lists the calls in progress for GET /api/v1/calls. The result
// must be JSON-encodable (a slice of structs); it is sent as {"items": ...}.
type CallLister interface {
	ListCalls(ctx context.Context) (any, error)
}

// Mount adds routes to the authenticated /api/v1 router (the queue and agent
// routes of the ACD). Routes are relative to /api/v1, and the same scope
// rule applies: GET/HEAD need a read token, every other method a write token.
// Paths documents them in the OpenAPI description: keys are full paths
// ("/api/v1/queues/{name}"), values OpenAPI 3 path items.
type Mount struct {
	Routes func(r chi.Router)
	Paths  map[string]any
}

// Config is everything the API needs. Store is required.
type Config struct {
	Store  store.Store
	Tokens []config.Token // Secret may be "env:NAME"; scope read or write
	// RateLimit is requests per second per token (burst: the same number,
	// at least 1). 0 means DefaultRateLimit; negative disables the limit.
	RateLimit float64
	Bus       *events.Bus // source of GET /api/v1/events; nil: the stream stays empty
	Logger    *slog.Logger
	// DefaultCountry (ISO 3166 alpha-2) turns national phone numbers into E.164.
	DefaultCountry string
	Mounts         []Mount
	Calls          CallLister                      // nil: GET /api/v1/calls answers 503
	Health         func(ctx context.Context) error // nil: Store.Ping
	MaxBodyBytes   int64                           // 0: DefaultMaxBodyBytes
	Heartbeat      time.Duration                   // SSE comment interval; 0: DefaultHeartbeat
	Now            func() time.Time                // nil: time.Now
}

// Server is the API's http.Handler. Call Shutdown (or Close) when the HTTP
// server shuts down so open event streams end; http.Server.RegisterOnShutdown
// is the place.
type Server struct {
	cfg      Config
	log      *slog.Logger
	router   *chi.Mux
	patterns map[string][]string // method → route patterns, for Allow
	auth     *authenticator
	spec     []byte
	now      func() time.Time
	mu       sync.Mutex
	closed   bool          // set by Close; no stream starts after it
	done     chan struct{} // closed by Close: streams end
	streams  sync.WaitGroup
	active   atomic.Int64 // open event streams
}

// New builds the API. It does not start anything: serve it with an
// http.Server.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, log: logger(cfg.Logger), done: make(chan struct{}), now: cfg.Now}
	if s.now == nil {
		s.now = time.Now
	}
	if s.cfg.MaxBodyBytes <= 0 {
		s.cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if s.cfg.Heartbeat <= 0 {
		s.cfg.Heartbeat = DefaultHeartbeat
	}
	s.auth = newAuthenticator(cfg.Tokens, cfg.RateLimit, s.log)
	s.router = s.routes()
	s.patterns = routePatterns(s.router)
	spec, err := buildSpec(cfg.Mounts)
	if err != nil {
		s.log.Error("OpenAPI description unavailable", "err", err)
		spec = []byte(`{"openapi": "3.0.3", "info": {"title": "Hotline API", "version": "1"}, "paths": {}}`)
	}
	s.spec = spec
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

// Router exposes the route tree (for chi.Walk in tests and docs checks).
func (s *Server) Router() chi.Routes { return s.router }

// Close makes every open event stream end. It does not wait; it is safe to
// call more than once.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
}

// ActiveStreams reports how many event streams are open (a gauge for metrics).
func (s *Server) ActiveStreams() int { return int(s.active.Load()) }

// startStream registers an event stream unless the server is closed.
func (s *Server) startStream() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.streams.Add(1)
	s.active.Add(1)
	return true
}

// Shutdown closes the event streams and waits until their handlers have
// returned or ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.Close()
	idle := make(chan struct{})
	go func() { s.streams.Wait(); close(idle) }() // ends when the streams do (bounded by their write deadline)
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	check := s.cfg.Health
	if check == nil && s.cfg.Store != nil {
		check = s.cfg.Store.Ping
	}
	if check != nil {
		if err := check(ctx); err != nil {
			s.log.Warn("health check failed", "err", err)
			s.writeError(w, r, &Error{Kind: ErrUnavailable, Message: "unhealthy"})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) listCalls(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Calls == nil {
		s.writeError(w, r, &Error{Kind: ErrUnavailable, Message: "live calls are not available in this process"})
		return
	}
	calls, err := s.cfg.Calls.ListCalls(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if v := reflect.ValueOf(calls); !v.IsValid() || (v.Kind() == reflect.Slice && v.IsNil()) {
		calls = []any{} // "items" is always an array
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": calls})
}
