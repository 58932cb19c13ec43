// Package api is Hotline's HTTP API under /api/v1: customers, tickets and
// interactions of the ticket history (so email and chat systems share the
// phone channel's history), callbacks, live calls, queues and agents (the ACD), the
// Server-Sent Events stream, the OpenAPI description, and the health
// endpoints (/livez, /readyz and its alias /healthz). Every route except
// those and /api/v1/openapi.json needs a bearer token from the
// configuration, or a browser session signed in with one (or with an
// agent's SIP credentials; session_routes.go, csrf.go). Every error goes through one writer (errors.go), every
// route is described in one OpenAPI source (openapi*.go), and a test walks
// the route tree against it.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/recording"
	"github.com/hotline-dev/hotline/store"
)

// Prefix is where the versioned API lives.
const Prefix = "/api/v1"

// Defaults for zero Config fields.
const (
	DefaultRateLimit    = 100     // requests/s per token
	DefaultMaxBodyBytes = 1 << 20 // 1 MiB
	DefaultHeartbeat    = 15 * time.Second
	DefaultAuthFailures = 10 // unknown tokens per source and minute
)

// CallLister lists the calls in progress for GET /api/v1/calls, oldest
// first; it is sent as {"items": ...}.
type CallLister interface {
	ListCalls(ctx context.Context) ([]LiveCall, error)
}

// LiveCall is a call in progress.
type LiveCall struct {
	CallID    string    `json:"call_id"`
	Caller    string    `json:"caller"`
	Called    string    `json:"called"`
	Flow      string    `json:"flow"`
	StartedAt time.Time `json:"started_at"`
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
	Calls          CallLister // nil: GET /api/v1/calls answers 503
	ACD            ACD        // queues and agents (queue.Service); nil: their routes answer 503
	Callbacks      Callbacks  // nil: the /api/v1/callbacks routes answer 503
	Webhooks       Webhooks   // nil: the /api/v1/webhooks routes answer 503
	// Recordings holds the audio of GET /api/v1/recordings/{id} (the
	// metadata is Store's, store.Recordings); nil: that route answers 503.
	Recordings recording.Store
	// AuthFailures is how many unknown tokens one source address may
	// present per minute (burst the same) before it gets 429 with
	// Retry-After. 0 means DefaultAuthFailures; negative disables it.
	AuthFailures int
	// RequestTimeout bounds each request under /api/v1 except the event
	// stream; past it the request answers 503. 0: DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Ready are the checks of /readyz and /healthz; nil: one "database"
	// check, Store.Ping. They run side by side within ReadyTimeout.
	Ready        []Check
	ReadyTimeout time.Duration // 0: DefaultReadyTimeout
	// RetryAfter goes with every 503 (rounded up to seconds); 0: DefaultRetryAfter.
	RetryAfter   time.Duration
	MaxBodyBytes int64            // 0: DefaultMaxBodyBytes
	Heartbeat    time.Duration    // SSE comment interval; 0: DefaultHeartbeat
	Now          func() time.Time // nil: time.Now

	// Agents may sign in to a browser session with their SIP username and
	// password (POST /api/v1/session); one without either cannot.
	Agents []config.Agent
	// SessionIdle ends a session unused this long; 0: DefaultSessionIdle.
	SessionIdle time.Duration
	// SessionLifetime ends a session this long after sign-in, used or
	// not; 0: DefaultSessionLifetime.
	SessionLifetime time.Duration
	MaxSessions     int  // live sessions in all; 0: DefaultMaxSessions
	SecureCookies   bool // the session cookie is Secure also on plain HTTP (TLS ends at a proxy in front)
}

// Server is the API's http.Handler. Call Shutdown (or Close) when the HTTP
// server shuts down so open event streams end; http.Server.RegisterOnShutdown
// is the place.
type Server struct {
	cfg       Config
	log       *slog.Logger
	router    *chi.Mux
	patterns  map[string][]string // method → route patterns, for Allow
	auth      *authenticator
	throttle  *failThrottle // nil: token guessing not throttled
	sessions  *sessions
	wrapUps   *wrapUps // who may wrap up which caller's tickets, from the call events (wrapup.go)
	unobserve func()   // stops the bus calling wrapUps; nil without a bus
	spec      []byte
	now       func() time.Time
	mu        sync.Mutex
	closed    bool          // set by Close; no stream starts after it
	done      chan struct{} // closed by Close: streams end
	streams   sync.WaitGroup
	active    atomic.Int64 // open event streams
	encoded   encodedEvents
}

// New builds the API. It does not start anything (it observes Bus until
// Close): serve it with an http.Server.
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
	if s.cfg.RequestTimeout <= 0 {
		s.cfg.RequestTimeout = DefaultRequestTimeout
	}
	if s.cfg.ReadyTimeout <= 0 {
		s.cfg.ReadyTimeout = DefaultReadyTimeout
	}
	if s.cfg.RetryAfter <= 0 {
		s.cfg.RetryAfter = DefaultRetryAfter
	}
	s.auth = newAuthenticator(cfg.Tokens, cfg.Agents, cfg.RateLimit, s.log)
	s.sessions = newSessions(cfg.SessionIdle, cfg.SessionLifetime, cfg.MaxSessions)
	if s.cfg.AuthFailures == 0 {
		s.cfg.AuthFailures = DefaultAuthFailures
	}
	s.throttle = newFailThrottle(s.cfg.AuthFailures)
	s.wrapUps = newWrapUps(s.now)
	if cfg.Bus != nil {
		s.unobserve = cfg.Bus.ObserveAll(s.wrapUps.observe)
	}
	s.router = s.routes()
	s.patterns = routePatterns(s.router)
	spec, err := buildSpec()
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

// Close makes every open event stream end at once; no stream starts after
// it, and the bus is no longer observed. It does not wait (Shutdown does)
// and is safe to call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.done)
		if s.unobserve != nil {
			s.unobserve()
		}
	}
	return nil
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
	writeJSON(w, http.StatusOK, map[string]any{"items": nonNil(calls)})
}
