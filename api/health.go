package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Defaults for the outage limits.
const (
	DefaultRequestTimeout = 5 * time.Second
	DefaultReadyTimeout   = 2 * time.Second
	DefaultRetryAfter     = 5 * time.Second
)

// Check is one readiness check of /readyz. Run must return by ctx's
// deadline. Its error is logged; /readyz shows the Message of an *Error
// (meant for people), otherwise only that the check failed or timed out,
// so an unauthenticated endpoint gives away no host names or addresses.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// checkResult is one check in the /readyz body.
type checkResult struct {
	Status     string `json:"status"` // ok or failed
	Error      string `json:"error,omitempty"`
	DurationMS int64  `json:"duration_ms"`
}

// readyBody is the /readyz (and /healthz) body.
type readyBody struct {
	Status string                 `json:"status"`           // ok or unavailable
	Failed []string               `json:"failed,omitempty"` // names of the failed checks, in Config.Ready order
	Checks map[string]checkResult `json:"checks"`
}

// livez is liveness: the process is up and serving. It checks nothing
// else on purpose: a database outage must not make an orchestrator
// restart a process that still answers calls.
func (s *Server) livez(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is readiness: every check passes within ReadyTimeout (run at
// once, side by side). 200, or 503 with Retry-After naming the failed checks.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	checks := s.cfg.Ready
	if checks == nil && s.cfg.Store != nil {
		checks = []Check{{Name: "database", Run: s.cfg.Store.Ping}}
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ReadyTimeout)
	defer cancel()
	results := make([]checkResult, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			t0 := time.Now()
			err := c.Run(ctx)
			results[i] = checkResult{Status: "ok", DurationMS: time.Since(t0).Milliseconds()}
			if err != nil {
				results[i].Status, results[i].Error = "failed", s.publicCheckError(ctx, err)
				s.log.Warn("readiness check failed", "check", c.Name, "err", err, "duration", time.Since(t0))
			}
		})
	}
	wg.Wait()
	body := readyBody{Status: "ok", Checks: make(map[string]checkResult, len(checks))}
	for i, c := range checks {
		body.Checks[c.Name] = results[i]
		if results[i].Status != "ok" {
			body.Failed = append(body.Failed, c.Name)
		}
	}
	if len(body.Failed) > 0 {
		body.Status = "unavailable"
		s.setRetryAfter(w)
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) publicCheckError(ctx context.Context, err error) string {
	var ae *Error
	switch {
	case errors.As(err, &ae):
		return ae.Message
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
		return fmt.Sprintf("no answer within %v", s.cfg.ReadyTimeout)
	default:
		return "failed (the server log says why)"
	}
}

// deadline bounds a request's work (its store calls) by RequestTimeout:
// a database that is down or hangs costs a client that long at most, then
// 503 with Retry-After (writeError maps the deadline).
func (s *Server) deadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// setRetryAfter tells a client when to try a 503 again (RFC 9110 §10.2.3).
func (s *Server) setRetryAfter(w http.ResponseWriter) {
	secs := int64((s.cfg.RetryAfter + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
}
