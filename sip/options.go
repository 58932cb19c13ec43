package sip

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// What this user agent supports, as OPTIONS, 405 and our responses' Allow
// advertise it (RFC 3261 §11.2, §20.5, §20.1).
const (
	allowed = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO"
	accepts = "application/sdp, application/dtmf-relay, application/dtmf"
)

// readyEvery is how often OPTIONS may run ServerConfig.Ready: a proxy
// probing every node (Kamailio ds_ping) or a flood of OPTIONS costs one
// readiness check a second at most.
const readyEvery = time.Second

// onOptions answers capability queries and keep-alives (RFC 3261 §11.2):
// 200, or 503 with Retry-After while the server drains or ServerConfig.Ready
// fails (the database is unreachable), so that a load balancer's OPTIONS
// probe (Kamailio dispatcher ds_ping) takes this node out of rotation.
func (s *Server) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	s.mu.Lock()
	draining := s.draining
	s.mu.Unlock()
	if draining {
		s.respond(req, tx, sip.StatusServiceUnavailable, "Service Unavailable (draining)",
			sip.NewHeader("Retry-After", strconv.Itoa(int(s.cfg.RetryAfter/time.Second))), sip.NewHeader("Server", s.cfg.UserAgent))
		return
	}
	if err := s.ready.get(time.Now()); err != nil {
		s.respond(req, tx, sip.StatusServiceUnavailable, "Service Unavailable (not ready)",
			sip.NewHeader("Retry-After", strconv.Itoa(max(1, int(readyEvery/time.Second)))), sip.NewHeader("Server", s.cfg.UserAgent))
		return
	}
	s.respond(req, tx, sip.StatusOK, "OK", sip.NewHeader("Allow", allowed), sip.NewHeader("Accept", accepts),
		sip.NewHeader("Server", s.cfg.UserAgent))
}

// readyCache runs a readiness check at most once per readyEvery; callers
// in between, and callers while a check runs, get the last result.
type readyCache struct {
	check   func(context.Context) error // nil: always ready
	timeout time.Duration
	log     *slog.Logger

	mu      sync.Mutex
	last    time.Time
	err     error
	running bool
}

func (r *readyCache) get(now time.Time) error {
	if r == nil || r.check == nil {
		return nil
	}
	r.mu.Lock()
	if r.running || (!r.last.IsZero() && now.Sub(r.last) < readyEvery) {
		err := r.err
		r.mu.Unlock()
		return err
	}
	r.running = true
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	err := r.check(ctx)
	cancel()
	r.mu.Lock()
	if (err == nil) != (r.err == nil) {
		if err != nil {
			r.log.Warn("not ready: OPTIONS answers 503", "err", err)
		} else {
			r.log.Info("ready again: OPTIONS answers 200")
		}
	}
	r.last, r.err, r.running = now, err, false
	r.mu.Unlock()
	return err
}

// onNoRoute: 405 must list what we allow (RFC 3261 §21.4.6).
func (s *Server) onNoRoute(req *sip.Request, tx sip.ServerTransaction) {
	s.respondError(req, tx, ErrMethodNotAllowed)
}
