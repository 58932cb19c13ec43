package api

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/queue"
)

// ACD is what the queue and agent routes need of automatic call
// distribution; *queue.Service is the implementation. Its errors wrap the
// queue's sentinels (unknown queue or agent, bad state, logged out), which
// asError maps to the API's kinds.
type ACD interface {
	ACDViews
	SetState(agentID, state, reason string) error
	SetMember(agentID, queue string, penalty int) (added bool, err error)
	RemoveMember(agentID, queue string) error
}

// ACDViews is the read side of ACD. In a cluster, *cluster.View serves it
// on every node from the leader's view (docs/cluster.md "Views on every
// node"), while the writes go to the leader as commands.
type ACDViews interface {
	Queues() []queue.QueueView
	Queue(name string) (queue.QueueView, error)
	Agents() []queue.AgentInfo
	Agent(id string) (queue.AgentInfo, error)
}

var _ ACD = (*queue.Service)(nil)

// ViewAger is implemented by an ACD whose reads are a copy (a cluster's
// view, docs/cluster.md): how old the copy is, false before the first, and
// how old it may be before the node is not ready (cluster.view_max_age).
// The queue reads then say both, in the X-Hotline-View-Age-Ms header and as
// view_age_ms and view_max_age_ms (a wallboard shows "stale" past it).
type ViewAger interface {
	ViewAge() (time.Duration, bool)
	ViewMaxAge() time.Duration
}

// viewAge sets the view-age header; the age and the bound in ms, or -1 for
// an ACD that is not a copy (or has none yet).
func viewAge(w http.ResponseWriter, acd ACD) (ms, maxMS int64) {
	va, ok := acd.(ViewAger)
	if !ok {
		return -1, -1
	}
	age, ok := va.ViewAge()
	if !ok {
		return -1, -1
	}
	ms = age.Milliseconds()
	w.Header().Set("X-Hotline-View-Age-Ms", strconv.FormatInt(ms, 10))
	return ms, va.ViewMaxAge().Milliseconds()
}

// maxReason bounds a pause reason: it is shown on wallboards and logged.
const maxReason = 64

// maxPenalty bounds a queue member's penalty set over the API.
const maxPenalty = 1000

// queueRoutes are the ACD's routes inside the authenticated /api/v1 router:
//
//	GET  /queues             every queue: live state + windowed stats
//	GET  /queues/{name}      one queue
//	GET  /agents             every agent's presence and activity
//	GET  /agents/{id}        one agent
//	POST /agents/{id}/state  {"state": "login|logout|pause|ready", "reason": "..."}
//	PUT    /queues/{name}/members/{agent}  {"penalty": N} (optional): add, or change the penalty
//	DELETE /queues/{name}/members/{agent}  take the agent out of the queue
func (s *Server) queueRoutes(r chi.Router) {
	r.Get("/queues", s.listQueues)
	r.Get("/queues/{name}", s.getQueue)
	r.Put("/queues/{name}/members/{agent}", s.setQueueMember)
	r.Delete("/queues/{name}/members/{agent}", s.removeQueueMember)
	r.Get("/agents", s.listAgents)
	r.Get("/agents/{id}", s.getAgent)
	r.Post("/agents/{id}/state", s.setAgentState)
}

// acd returns the ACD, or answers 503 in a process without one.
func (s *Server) acd(w http.ResponseWriter, r *http.Request) (ACD, bool) {
	if s.cfg.ACD == nil {
		s.writeError(w, r, &Error{Kind: ErrUnavailable, Message: "queues and agents are not available in this process"})
		return nil, false
	}
	return s.cfg.ACD, true
}

// queueOut is a queue's view with its callbacks' figures: zero for a
// queue without callbacks, or in a process without the callback service.
type queueOut struct {
	queue.QueueView
	Callbacks callback.Figures `json:"callbacks"`
	// ViewAgeMS is how old the view is, in a cluster (ViewAger); absent
	// on one node, whose reads are live.
	ViewAgeMS *int64 `json:"view_age_ms,omitempty"`
	// ViewMaxAgeMS is cluster.view_max_age, with ViewAgeMS.
	ViewMaxAgeMS *int64 `json:"view_max_age_ms,omitempty"`
}

func (s *Server) queueOut(v queue.QueueView) queueOut {
	out := queueOut{QueueView: v, Callbacks: callback.Figures{Queue: v.Name}}
	if s.cfg.Callbacks != nil {
		if f, ok := s.cfg.Callbacks.QueueFigures(v.Name); ok {
			out.Callbacks = f
		}
	}
	return out
}

func (s *Server) listQueues(w http.ResponseWriter, r *http.Request) {
	if acd, ok := s.acd(w, r); ok {
		vs := acd.Queues()
		out := make([]queueOut, 0, len(vs))
		for _, v := range vs {
			out = append(out, s.queueOut(v))
		}
		body := map[string]any{"items": out}
		if ms, maxMS := viewAge(w, acd); ms >= 0 {
			body["view_age_ms"], body["view_max_age_ms"] = ms, maxMS
		}
		writeJSON(w, http.StatusOK, body)
	}
}

func (s *Server) getQueue(w http.ResponseWriter, r *http.Request) {
	acd, ok := s.acd(w, r)
	if !ok {
		return
	}
	v, err := acd.Queue(chi.URLParam(r, "name"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := s.queueOut(v)
	if ms, maxMS := viewAge(w, acd); ms >= 0 {
		out.ViewAgeMS, out.ViewMaxAgeMS = &ms, &maxMS
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listAgents(w http.ResponseWriter, r *http.Request) {
	if acd, ok := s.acd(w, r); ok {
		writeJSON(w, http.StatusOK, map[string]any{"items": nonNil(acd.Agents())})
	}
}

func (s *Server) getAgent(w http.ResponseWriter, r *http.Request) {
	acd, ok := s.acd(w, r)
	if !ok {
		return
	}
	a, err := acd.Agent(chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// agentStateInput is the body of POST /agents/{id}/state.
type agentStateInput struct {
	State  string `json:"state"`
	Reason string `json:"reason"`
}

func (s *Server) setAgentState(w http.ResponseWriter, r *http.Request) {
	acd, ok := s.acd(w, r)
	if !ok {
		return
	}
	var in agentStateInput
	if err := decodeRequest(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(in.Reason) > maxReason || strings.ContainsAny(in.Reason, "\r\n\x00") {
		s.writeError(w, r, invalid("reason", "at most %d characters, one line", maxReason))
		return
	}
	id := chi.URLParam(r, "id")
	if p := principalOf(r.Context()); p != nil && p.agent != "" && p.agent != id {
		// authenticate let the route's shape through; this is its id, routed.
		s.writeError(w, r, &Error{Kind: ErrForbidden, Message: p.asAgent() + " may change only its own state"})
		return
	}
	if err := acd.SetState(id, in.State, in.Reason); err != nil {
		s.writeError(w, r, err)
		return
	}
	a, err := acd.Agent(id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// memberInput is the body of PUT /queues/{name}/members/{agent}; without
// a body the penalty is 0.
type memberInput struct {
	Penalty int `json:"penalty"`
}

// memberOut is a queue membership, as PUT answers it.
type memberOut struct {
	Queue   string `json:"queue"`
	Agent   string `json:"agent"`
	Penalty int    `json:"penalty"`
}

// setQueueMember adds an agent to a queue (201) or sets its penalty there
// (200, also when it was that already). An agent session may not: the
// scope check refuses every change but its own state.
func (s *Server) setQueueMember(w http.ResponseWriter, r *http.Request) {
	acd, ok := s.acd(w, r)
	if !ok {
		return
	}
	b, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in memberInput
	if len(bytes.TrimSpace(b)) > 0 {
		if err := decodeJSON(b, &in); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if in.Penalty < 0 || in.Penalty > maxPenalty {
		s.writeError(w, r, invalid("penalty", "must be 0 to %d (lower is offered first), got %d", maxPenalty, in.Penalty))
		return
	}
	out := memberOut{Queue: chi.URLParam(r, "name"), Agent: chi.URLParam(r, "agent"), Penalty: in.Penalty}
	added, err := acd.SetMember(out.Agent, out.Queue, out.Penalty)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if added {
		status = http.StatusCreated
	}
	writeJSON(w, status, out)
}

// removeQueueMember takes an agent out of a queue: 204, or 404 when it
// is not a member (or either is unknown).
func (s *Server) removeQueueMember(w http.ResponseWriter, r *http.Request) {
	acd, ok := s.acd(w, r)
	if !ok {
		return
	}
	if err := acd.RemoveMember(chi.URLParam(r, "agent"), chi.URLParam(r, "name")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// nonNil keeps "items" an array when there is nothing to list.
func nonNil[T any](items []T) []T {
	if items == nil {
		return []T{}
	}
	return items
}
