package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/store"
)

// Callbacks is what the callback routes need of the callback service;
// *callback.Scheduler is the implementation. Its errors are the
// scheduler's (duplicate, refused number, outside hours, rate limited, in
// progress) and the store's, which callbackError maps to the API's kinds.
type Callbacks interface {
	Request(ctx context.Context, r callback.Request) (callback.Callback, error)
	Get(ctx context.Context, id int64) (callback.Callback, error)
	List(ctx context.Context, f store.CallbackFilter, p store.Page) ([]callback.Callback, string, error)
	Cancel(ctx context.Context, id, version int64, by string) (callback.Callback, error)
	Reschedule(ctx context.Context, id, version int64, at time.Time, by string) (callback.Callback, error)
	// QueueFigures are a queue's callbacks for its view (wallboard).
	QueueFigures(queue string) (callback.Figures, bool)
}

var _ Callbacks = (*callback.Scheduler)(nil)

// callbackInput is the body of POST /callbacks.
type callbackInput struct {
	Number     string `json:"number"`
	Queue      string `json:"queue"`
	At         string `json:"at"` // RFC 3339; "" = as soon as the queue's hours allow
	CustomerID int64  `json:"customer_id"`
	TicketID   int64  `json:"ticket_id"`
	Category   string `json:"category"`
	Language   string `json:"language"`
	Note       string `json:"note"`
}

// callbackPatch is the body of PATCH /callbacks/{id}: a new time.
type callbackPatch struct {
	At *string `json:"at"`
}

// DecodeCallback decodes and checks a callback request body.
func DecodeCallback(b []byte) (callback.Request, error) {
	var in callbackInput
	if err := decodeJSON(b, &in); err != nil {
		return callback.Request{}, err
	}
	r := callback.Request{Source: store.SourceAPI, Number: strings.TrimSpace(in.Number), Queue: strings.TrimSpace(in.Queue),
		CustomerID: in.CustomerID, TicketID: in.TicketID, Category: in.Category, Language: in.Language, Note: in.Note}
	switch {
	case r.Number == "":
		return r, invalid("number", "required: the number to call back")
	case len(r.Number) > 64:
		return r, invalid("number", "longer than 64 bytes")
	case r.Queue == "":
		return r, invalid("queue", "required: the queue whose agents call back")
	case len(r.Queue) > maxShort:
		return r, invalid("queue", "longer than %d bytes", maxShort)
	case in.CustomerID < 0:
		return r, invalid("customer_id", "must be a positive id")
	case in.TicketID < 0:
		return r, invalid("ticket_id", "must be a positive id")
	case len(in.Category) > maxShort:
		return r, invalid("category", "longer than %d bytes", maxShort)
	case len(in.Language) > 35:
		return r, invalid("language", "longer than 35 bytes")
	case len(in.Note) > maxText:
		return r, invalid("note", "longer than %d bytes", maxText)
	}
	if in.At != "" {
		at, err := parseAt(in.At)
		if err != nil {
			return r, err
		}
		r.At = at
	}
	return r, nil
}

func parseAt(s string) (time.Time, error) {
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, invalid("at", "%q is not an RFC 3339 time such as 2026-11-24T10:00:00+07:00", s)
	}
	return at, nil
}

func (s *Server) callbackRoutes(r chi.Router) {
	r.Get("/", s.listCallbacks)
	r.Post("/", s.createCallback)
	r.Get("/{id}", s.getCallback)
	r.Patch("/{id}", s.rescheduleCallback)
	r.Post("/{id}/cancel", s.cancelCallback)
}

// callbacks returns the service, or answers 503 in a process without one.
func (s *Server) callbacks(w http.ResponseWriter, r *http.Request) (Callbacks, bool) {
	if s.cfg.Callbacks == nil {
		s.writeError(w, r, &Error{Kind: ErrUnavailable, Message: "callbacks are not available in this process"})
		return nil, false
	}
	return s.cfg.Callbacks, true
}

// who names the requester for the ticket and the request bounds.
func who(r *http.Request) string { return "api token " + tokenName(r.Context()) }

func (s *Server) createCallback(w http.ResponseWriter, r *http.Request) {
	cbs, ok := s.callbacks(w, r)
	if !ok {
		return
	}
	b, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	req, err := DecodeCallback(b)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// The per-source bound: one token from one client address.
	req.SourceKey = tokenName(r.Context()) + " " + sourceOf(r)
	cb, err := cbs.Request(r.Context(), req)
	if err != nil {
		s.writeCallbackError(w, r, cb, err)
		return
	}
	setETag(w, cb.Version)
	writeCreated(w, "callbacks", cb.ID, cb)
}

func (s *Server) getCallback(w http.ResponseWriter, r *http.Request) {
	cbs, ok := s.callbacks(w, r)
	if !ok {
		return
	}
	id, err := idParam(r, "callback")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cb, err := cbs.Get(r.Context(), id)
	if err != nil {
		s.writeError(w, r, s.missing(err, "callback", id))
		return
	}
	setETag(w, cb.Version)
	writeJSON(w, http.StatusOK, cb)
}

func (s *Server) listCallbacks(w http.ResponseWriter, r *http.Request) {
	cbs, ok := s.callbacks(w, r)
	if !ok {
		return
	}
	if err := checkQuery(r, callbackQuery); err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	f := store.CallbackFilter{Queue: q.Get("queue"), State: store.CallbackState(q.Get("state")), Number: q.Get("number")}
	if f.State != "" && f.State != store.CallbackOpen && !oneOfState(f.State) {
		s.writeError(w, r, invalid("state", "must be open, waiting, dialling, connected, completed, failed, expired or cancelled, got %q", f.State))
		return
	}
	var err error
	if f.CustomerID, err = queryInt(r, "customer_id"); err == nil {
		f.TicketID, err = queryInt(r, "ticket_id")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	listPage(s, w, r, func(ctx context.Context, p store.Page) ([]callback.Callback, string, error) {
		return cbs.List(ctx, f, p)
	})
}

func oneOfState(st store.CallbackState) bool {
	for _, x := range store.CallbackStates {
		if x == st {
			return true
		}
	}
	return false
}

func (s *Server) cancelCallback(w http.ResponseWriter, r *http.Request) {
	s.changeCallback(w, r, func(cbs Callbacks, id, version int64) (callback.Callback, error) {
		if b, err := readBody(r); err != nil || len(strings.TrimSpace(string(b))) > 0 {
			if err == nil {
				err = &Error{Kind: ErrBadJSON, Message: "cancel takes no body"}
			}
			return callback.Callback{}, err
		}
		return cbs.Cancel(r.Context(), id, version, who(r))
	})
}

func (s *Server) rescheduleCallback(w http.ResponseWriter, r *http.Request) {
	s.changeCallback(w, r, func(cbs Callbacks, id, version int64) (callback.Callback, error) {
		var p callbackPatch
		if err := decodeRequest(r, &p); err != nil {
			return callback.Callback{}, err
		}
		if p.At == nil || *p.At == "" {
			return callback.Callback{}, invalid("at", "required: the new time (RFC 3339)")
		}
		at, err := parseAt(*p.At)
		if err != nil {
			return callback.Callback{}, err
		}
		return cbs.Reschedule(r.Context(), id, version, at, who(r))
	})
}

// changeCallback runs a change of callback {id} under its If-Match
// version, when one is sent.
func (s *Server) changeCallback(w http.ResponseWriter, r *http.Request, do func(cbs Callbacks, id, version int64) (callback.Callback, error)) {
	cbs, ok := s.callbacks(w, r)
	if !ok {
		return
	}
	id, err := idParam(r, "callback")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	version, err := ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cb, err := do(cbs, id, version)
	if err != nil {
		s.writeCallbackError(w, r, cb, s.missing(err, "callback", id))
		return
	}
	setETag(w, cb.Version)
	writeJSON(w, http.StatusOK, cb)
}

// setETag sends a callback's version as its entity tag (RFC 9110 §8.8.3):
// a strong tag, "3".
func setETag(w http.ResponseWriter, version int64) {
	if version > 0 {
		w.Header().Set("ETag", `"`+strconv.FormatInt(version, 10)+`"`)
	}
}

// ifMatch reads If-Match (RFC 9110 §13.1.1): one entity tag from an ETag
// of this API, or * (any version), or none; 0 means no check.
func ifMatch(r *http.Request) (int64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return 0, nil
	}
	tag := strings.TrimPrefix(h, "W/") // a weak tag never matches strongly; our tags are strong, treat it as the same version
	v, err := strconv.ParseInt(strings.Trim(tag, `"`), 10, 64)
	if err != nil || v <= 0 || !strings.HasPrefix(tag, `"`) || !strings.HasSuffix(tag, `"`) {
		return 0, &Error{Kind: ErrPrecondition, Field: "If-Match", Message: fmt.Sprintf("%q is not an entity tag of this API (send the ETag of a GET)", h)}
	}
	return v, nil
}

// writeCallbackError maps the scheduler's errors; cur is the callback as
// it stands when the error came with one (a duplicate's existing request,
// the current version of a stale one).
func (s *Server) writeCallbackError(w http.ResponseWriter, r *http.Request, cur callback.Callback, err error) {
	var dup *callback.DuplicateError
	var rl *callback.RateLimitError
	var oh *callback.OutsideHoursError
	switch {
	case errors.As(err, &dup):
		existing := callback.Callback{Callback: dup.Existing, Status: callback.Status(dup.Existing.State), Position: dup.Position}
		if cur.ID == dup.Existing.ID {
			existing = cur
		}
		w.Header().Set("Location", fmt.Sprintf("%s/callbacks/%d", Prefix, existing.ID))
		setETag(w, existing.Version)
		err = &Error{Kind: ErrConflict, Field: "number", Existing: existing,
			Message: fmt.Sprintf("%s already has callback %d in queue %s (%s); see \"existing\"", dup.Existing.Number, dup.Existing.ID,
				dup.Existing.Queue, existing.Status)}
	case errors.Is(err, callback.ErrUnknownQueue), errors.Is(err, callback.ErrDisabled):
		err = invalid("queue", "%s", strings.TrimPrefix(err.Error(), "callback: "))
	case errors.Is(err, callback.ErrRefused):
		why := strings.TrimPrefix(strings.TrimPrefix(err.Error(), "callback: number refused: "), "outbound: destination not allowed: ")
		err = invalid("number", "refused by the outbound policy: %s", why)
	case errors.As(err, &oh):
		msg := fmt.Sprintf("%s is outside the queue's hours", oh.At.Format(time.RFC3339))
		if !oh.Next.IsZero() {
			msg += "; it opens next at " + oh.Next.Format(time.RFC3339)
		}
		err = invalid("at", "%s", msg)
	case errors.As(err, &rl):
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(rl.RetryAfter)))
		err = &Error{Kind: ErrRateLimited, Message: fmt.Sprintf("too many callback requests (bound callbacks.%s)", rl.Bound)}
	case errors.Is(err, store.ErrVersion):
		setETag(w, cur.Version)
		err = &Error{Kind: ErrPrecondition, Field: "If-Match", Message: fmt.Sprintf("the callback changed: it is at version %d (ETag %q)",
			cur.Version, strconv.FormatInt(cur.Version, 10))}
	case errors.Is(err, callback.ErrInProgress):
		err = &Error{Kind: ErrConflict, Field: "state", Message: strings.TrimPrefix(err.Error(), "callback: ")}
	case errors.Is(err, callback.ErrNotReady), errors.Is(err, callback.ErrClosed):
		err = &Error{Kind: ErrUnavailable, Message: "the callback service is starting or stopping; retry later"}
	}
	s.writeError(w, r, err)
}
