package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/store"
)

// Sentinel errors. Every error body the API writes is an *Error whose Kind
// is one of these, so the status and the "code" field follow from the kind.
var (
	// ErrBadJSON means the body is not one well-formed JSON value (400).
	ErrBadJSON = errors.New("api: malformed JSON")
	// ErrUnknownField means the body has a field the resource does not have (400).
	ErrUnknownField = errors.New("api: unknown field")
	// ErrUnknownParam means a query parameter the route does not take (400).
	ErrUnknownParam = errors.New("api: unknown query parameter")
	// ErrInvalid means a value is present but not acceptable (422).
	ErrInvalid = errors.New("api: invalid value")
	// ErrUnauthorized means no bearer token or an unknown one (401).
	ErrUnauthorized = errors.New("api: missing or invalid token")
	// ErrForbidden means a read-only token tried to write (403).
	ErrForbidden = errors.New("api: token lacks write scope")
	// ErrNotFound means no such resource or route (404).
	ErrNotFound = errors.New("api: not found")
	// ErrMethodNotAllowed means the route exists but not for this method (405).
	ErrMethodNotAllowed = errors.New("api: method not allowed")
	// ErrConflict means a uniqueness rule was broken, e.g. a phone or email
	// that already belongs to another customer (409).
	ErrConflict = errors.New("api: conflict")
	// ErrPrecondition means If-Match names a version the resource no
	// longer has, or is not an entity tag at all (412).
	ErrPrecondition = errors.New("api: precondition failed")
	// ErrTooLarge means the request body is over the limit (413).
	ErrTooLarge = errors.New("api: body too large")
	// ErrRateLimited means the token sent more requests than its rate (429).
	ErrRateLimited = errors.New("api: rate limited")
	// ErrUnavailable means a dependency (database, live calls) is not there (503).
	ErrUnavailable = errors.New("api: unavailable")
	// ErrInternal means a bug or an unexpected failure; details are logged,
	// not sent (500).
	ErrInternal = errors.New("api: internal error")
)

// Error is one API error: the JSON body is
// {"error": {"code": ..., "message": ..., "field": ...}}.
type Error struct {
	Kind    error  // one of the sentinels above
	Message string // for people; safe to show
	Field   string // JSON field (path) at fault, if any: "phones[1]", "customer_id"
	// Existing is the resource a conflict is with (a duplicate callback
	// request's open callback); sent as "existing" beside "error".
	Existing any
	// Issues are every invalid value of the request (ErrInvalid), this one
	// first; sent as "errors". Empty: this one alone.
	Issues []*Error
	// Pointer is Field's JSON pointer when it cannot be derived from Field
	// (an attribute key with a dot in it).
	Pointer string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%v: %s: %s", e.Kind, e.Field, e.Message)
	}
	return fmt.Sprintf("%v: %s", e.Kind, e.Message)
}

func (e *Error) Unwrap() error { return e.Kind }

// Status is the HTTP status for the error's kind.
func (e *Error) Status() int {
	s, _ := kindOf(e.Kind)
	return s
}

// Code is the stable machine-readable code for the error's kind.
func (e *Error) Code() string {
	_, c := kindOf(e.Kind)
	return c
}

// kindOf maps an error's sentinel to its HTTP status and stable code.
func kindOf(err error) (int, string) {
	switch {
	case errors.Is(err, ErrBadJSON):
		return http.StatusBadRequest, "bad_json"
	case errors.Is(err, ErrUnknownField):
		return http.StatusBadRequest, "unknown_field"
	case errors.Is(err, ErrUnknownParam):
		return http.StatusBadRequest, "unknown_parameter"
	case errors.Is(err, ErrInvalid):
		return http.StatusUnprocessableEntity, "invalid"
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized, "unauthorized"
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden, "forbidden"
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, ErrMethodNotAllowed):
		return http.StatusMethodNotAllowed, "method_not_allowed"
	case errors.Is(err, ErrConflict):
		return http.StatusConflict, "conflict"
	case errors.Is(err, ErrPrecondition):
		return http.StatusPreconditionFailed, "precondition_failed"
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge, "too_large"
	case errors.Is(err, ErrRateLimited):
		return http.StatusTooManyRequests, "rate_limited"
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable, "unavailable"
	default:
		return http.StatusInternalServerError, "internal"
	}
}

// errorBody is the wire form.
type errorBody struct {
	Error    errorDetail `json:"error"`
	Existing any         `json:"existing,omitempty"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// Errors lists every invalid value of a 422 (the first is the one
	// above), each with its field as a JSON pointer into the body.
	Errors []issueDetail `json:"errors,omitempty"`
}

// issueDetail is one invalid value.
type issueDetail struct {
	Field   string `json:"field,omitempty"`   // as in "field": "phones[1]"
	Pointer string `json:"pointer,omitempty"` // RFC 6901 into the request body: "/phones/1"; absent for a query parameter or header
	Message string `json:"message"`
}

// issues is the "errors" list of an invalid-value answer. Fields of a
// request without a body (GET: query parameters) and headers get no
// pointer.
func issues(ae *Error, bodyless bool) []issueDetail {
	if ae.Kind != ErrInvalid {
		return nil
	}
	list := ae.Issues
	if len(list) == 0 {
		list = []*Error{ae}
	}
	out := make([]issueDetail, 0, len(list))
	for _, e := range list {
		d := issueDetail{Field: e.Field, Message: e.Message}
		switch {
		case bodyless || strings.Contains(e.Field, "-"): // query parameters; headers (If-Match, Idempotency-Key)
		case e.Pointer != "":
			d.Pointer = e.Pointer
		default:
			d.Pointer = jsonPointer(e.Field)
		}
		out = append(out, d)
	}
	return out
}

func invalid(field, format string, args ...any) *Error {
	return &Error{Kind: ErrInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *Error {
	return &Error{Kind: ErrNotFound, Message: fmt.Sprintf(format, args...)}
}

// asError turns an error from the store, the ACD (or anything else) into an
// *Error: the one mapping from the sentinels of the packages below the API
// to its kinds. Unknown errors become ErrInternal; the caller logs the
// original.
func asError(err error) *Error {
	var ae *Error
	var fe *store.FieldError
	var ce *store.ConflictError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &ce):
		return &Error{Kind: ErrConflict, Field: ce.Field, Message: ce.Message}
	case errors.As(err, &fe):
		return &Error{Kind: ErrInvalid, Field: fe.Field, Message: fe.Message}
	case errors.Is(err, store.ErrInvalid):
		return &Error{Kind: ErrInvalid, Message: err.Error()}
	case errors.Is(err, store.ErrNotFound):
		return &Error{Kind: ErrNotFound, Message: "not found"}
	case errors.Is(err, store.ErrConflict):
		return &Error{Kind: ErrConflict, Message: conflictMessage(err)}
	case errors.Is(err, queue.ErrUnknownQueue), errors.Is(err, queue.ErrUnknownAgent), errors.Is(err, queue.ErrNotMember):
		return &Error{Kind: ErrNotFound, Message: err.Error()}
	case errors.Is(err, queue.ErrBadState): // only a state change says it
		return &Error{Kind: ErrInvalid, Field: "state", Message: "state must be login, logout, pause or ready"}
	case errors.Is(err, queue.ErrLoggedOut):
		return &Error{Kind: ErrConflict, Field: "state", Message: err.Error()}
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, ErrUnavailable):
		return &Error{Kind: ErrUnavailable, Message: "the ticket history database is unavailable; retry later"}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Kind: ErrUnavailable, Message: "the database did not answer in time"}
	default:
		return &Error{Kind: ErrInternal, Message: "internal error"}
	}
}

// conflictMessage keeps the store's explanation (which phone or email
// clashed) but not its "store: " plumbing prefix.
func conflictMessage(err error) string {
	msg := err.Error()
	if msg == store.ErrConflict.Error() {
		return "conflicts with an existing record"
	}
	return msg
}

// writeError writes err as a JSON error body. Internal errors are logged
// with the request so an operator can find them; the client sees no detail.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := asError(err)
	status := ae.Status()
	switch {
	case status >= 500 && errors.Is(r.Context().Err(), context.Canceled):
		s.log.Debug("api request abandoned by the client", "method", r.Method, "path", r.URL.Path, "err", err)
	case status == http.StatusServiceUnavailable:
		// An outage is not a bug: one line per request at warn, and the
		// client is told when to come back.
		s.log.Warn("api request failed: unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
	case status >= 500:
		s.log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	case status == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "":
		w.Header().Set("Retry-After", "1")
	}
	if status == http.StatusServiceUnavailable {
		s.setRetryAfter(w)
	}
	writeJSON(w, status, errorBody{Error: errorDetail{Code: ae.Code(), Message: ae.Message, Field: ae.Field, Errors: issues(ae, r.Method == http.MethodGet || r.Method == http.MethodHead)}, Existing: ae.Existing})
}

// writeJSON writes v with status. HTML escaping is off: these bodies are
// JSON for programs, and "<token>" should read as written.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		buf.Reset()
		buf.WriteString(`{"error":{"code":"internal","message":"response encoding failed"}}` + "\n")
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// logger returns l or a logger that discards.
func logger(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
}
