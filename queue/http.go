package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"
)

// Routes returns the queue and agent routes for the API's authenticated
// /api/v1 router (api.Mount{Routes: queue.Routes(svc), Paths: queue.OpenAPIPaths()}):
//
//	GET  /queues             every queue: live state + windowed stats
//	GET  /queues/{name}      one queue
//	GET  /agents             every agent's presence and activity
//	GET  /agents/{id}        one agent
//	POST /agents/{id}/state  {"state": "login|logout|pause|ready", "reason": "..."}
//
// Errors use the API's shape: {"error": {"code", "message", "field"}}.
func Routes(svc *Service) func(chi.Router) {
	h := handlers{svc}
	return func(r chi.Router) {
		r.Get("/queues", h.listQueues)
		r.Get("/queues/{name}", h.getQueue)
		r.Get("/agents", h.listAgents)
		r.Get("/agents/{id}", h.getAgent)
		r.Post("/agents/{id}/state", h.setState)
	}
}

type handlers struct{ svc *Service }

// Waiter is one caller in a queue's live view.
type Waiter struct {
	CallID        string  `json:"call_id"`
	Tier          string  `json:"tier"`
	WaitedSeconds float64 `json:"waited_s"`
	Ringing       bool    `json:"ringing"`
}

// QueueView is GET /queues/{name}: configuration summary, the first callers
// in priority order and the event-fed stats.
type QueueView struct {
	Name     string   `json:"name"`
	Strategy string   `json:"strategy"`
	Callers  []Waiter `json:"callers"` // first MaxListed in service order
	QueueStats
}

// MaxListed bounds the callers listed in a QueueView.
const MaxListed = 100

// Queue returns one queue's live view.
func (s *Service) Queue(name string) (QueueView, error) {
	s.mu.Lock()
	q, ok := s.queues[name]
	if !ok {
		s.mu.Unlock()
		return QueueView{}, fmt.Errorf("queue %q: %w", name, ErrUnknownQueue)
	}
	now := s.cfg.Now()
	v := QueueView{Name: name, Strategy: q.cfg.Strategy, Callers: []Waiter{}}
	for _, e := range q.waiting[:min(len(q.waiting), MaxListed)] {
		v.Callers = append(v.Callers, Waiter{CallID: e.callID, Tier: e.tier,
			WaitedSeconds: now.Sub(e.joined).Seconds(), Ringing: len(e.offers) > 0})
	}
	s.mu.Unlock()
	v.QueueStats, _ = s.stats.Queue(name, now)
	return v, nil
}

// Queues returns every queue's live view, by name.
func (s *Service) Queues() []QueueView {
	s.mu.Lock()
	names := make([]string, 0, len(s.queues))
	for n := range s.queues {
		names = append(names, n)
	}
	s.mu.Unlock()
	slices.Sort(names)
	out := make([]QueueView, 0, len(names))
	for _, n := range names {
		if v, err := s.Queue(n); err == nil {
			out = append(out, v)
		}
	}
	return out
}

func (h handlers) listQueues(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"items": h.svc.Queues()})
}

func (h handlers) getQueue(w http.ResponseWriter, r *http.Request) {
	v, err := h.svc.Queue(chi.URLParam(r, "name"))
	if err != nil {
		writeErr(w, err, "")
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (h handlers) listAgents(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"items": h.svc.Agents()})
}

func (h handlers) getAgent(w http.ResponseWriter, r *http.Request) {
	a, err := h.svc.Agent(chi.URLParam(r, "id"))
	if err != nil {
		writeErr(w, err, "")
		return
	}
	writeJSON(w, http.StatusOK, a)
}

type stateRequest struct {
	State  string `json:"state"`
	Reason string `json:"reason"`
}

func (h handlers) setState(w http.ResponseWriter, r *http.Request) {
	var req stateRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		code, field := "bad_json", ""
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			code, field = "unknown_field", strings.Trim(f, `"`)
		}
		writeError(w, http.StatusBadRequest, code, "request body: "+err.Error(), field)
		return
	}
	if len(req.Reason) > 64 || strings.ContainsAny(req.Reason, "\r\n\x00") {
		writeError(w, http.StatusUnprocessableEntity, "invalid", "reason: at most 64 characters, one line", "reason")
		return
	}
	id := chi.URLParam(r, "id")
	if err := h.svc.SetState(id, req.State, req.Reason); err != nil {
		writeErr(w, err, "state")
		return
	}
	a, err := h.svc.Agent(id)
	if err != nil {
		writeErr(w, err, "")
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// writeErr maps a sentinel to the API's status and code.
func writeErr(w http.ResponseWriter, err error, field string) {
	switch {
	case errors.Is(err, ErrUnknownQueue), errors.Is(err, ErrUnknownAgent):
		writeError(w, http.StatusNotFound, "not_found", err.Error(), "")
	case errors.Is(err, ErrBadState):
		writeError(w, http.StatusUnprocessableEntity, "invalid", "state must be login, logout, pause or ready", field)
	case errors.Is(err, ErrLoggedOut):
		writeError(w, http.StatusConflict, "conflict", err.Error(), field)
	default:
		writeError(w, http.StatusInternalServerError, "internal", "internal error", "")
	}
}

func writeError(w http.ResponseWriter, status int, code, msg, field string) {
	type detail struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
	}
	writeJSON(w, status, map[string]detail{"error": {Code: code, Message: msg, Field: field}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// OpenAPIPaths documents Routes for the API's OpenAPI description
// (api.Mount.Paths).
func OpenAPIPaths() map[string]any {
	ok := func(d string) map[string]any {
		return map[string]any{"200": map[string]any{"description": d}}
	}
	errs := func(m map[string]any, codes ...string) map[string]any {
		for _, c := range codes {
			m[c] = map[string]any{"description": "error: {\"error\": {\"code\", \"message\", \"field\"}}"}
		}
		return m
	}
	return map[string]any{
		"/api/v1/queues":        map[string]any{"get": map[string]any{"summary": "Queues: live state and stats (last 30m, today)", "responses": ok("queues")}},
		"/api/v1/queues/{name}": map[string]any{"get": map[string]any{"summary": "One queue", "responses": errs(ok("queue"), "404")}},
		"/api/v1/agents":        map[string]any{"get": map[string]any{"summary": "Agents: presence and activity", "responses": ok("agents")}},
		"/api/v1/agents/{id}":   map[string]any{"get": map[string]any{"summary": "One agent", "responses": errs(ok("agent"), "404")}},
		"/api/v1/agents/{id}/state": map[string]any{"post": map[string]any{
			"summary":   "Change presence: login, logout, pause (with reason), ready",
			"responses": errs(ok("agent after the change"), "400", "404", "409", "422")}},
	}
}
