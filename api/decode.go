package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/hotline-dev/hotline/store"
)

// readBody reads the whole (size-limited) body.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, &Error{Kind: ErrTooLarge, Message: fmt.Sprintf("body is over %d bytes", mbe.Limit)}
	case err != nil:
		return nil, &Error{Kind: ErrBadJSON, Message: "reading body: " + err.Error()}
	}
	return b, nil
}

// decodeJSON decodes exactly one JSON object from b into v, refusing unknown
// fields. Errors are *Error: ErrBadJSON with line and column, ErrUnknownField
// naming the field, or ErrInvalid naming the field whose type is wrong.
func decodeJSON(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return &Error{Kind: ErrBadJSON, Message: "empty body: expected a JSON object"}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if dec.More() {
			return &Error{Kind: ErrBadJSON, Message: "unexpected data after the JSON object at " + position(b, dec.InputOffset())}
		}
		return nil
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return &Error{Kind: ErrBadJSON, Message: fmt.Sprintf("%s at %s", se.Error(), position(b, se.Offset))}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &Error{Kind: ErrBadJSON, Message: "unexpected end of JSON at " + position(b, int64(len(b)))}
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return &Error{Kind: ErrBadJSON, Message: fmt.Sprintf("expected a JSON object, got %s at %s", te.Value, position(b, te.Offset))}
		}
		return &Error{Kind: ErrInvalid, Field: field, Message: fmt.Sprintf("must be %s, got %s", jsonType(te.Type.Kind().String()), te.Value)}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return &Error{Kind: ErrUnknownField, Field: name, Message: fmt.Sprintf("unknown field %q", name)}
	}
	var ae *Error
	if errors.As(err, &ae) {
		return ae // from a custom UnmarshalJSON
	}
	return &Error{Kind: ErrBadJSON, Message: err.Error()}
}

// position renders a byte offset as "line L, column C (offset O)".
func position(b []byte, off int64) string {
	if off < 0 {
		off = 0
	}
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	before := b[:off]
	line := bytes.Count(before, []byte{'\n'}) + 1
	col := int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return fmt.Sprintf("line %d, column %d (offset %d)", line, col, off)
}

func jsonType(kind string) string {
	switch {
	case kind == "string":
		return "a string"
	case kind == "slice" || kind == "array":
		return "an array"
	case kind == "map" || kind == "struct":
		return "an object"
	case kind == "bool":
		return "true or false"
	case strings.HasPrefix(kind, "int") || strings.HasPrefix(kind, "uint"):
		return "a whole number"
	case strings.HasPrefix(kind, "float"):
		return "a number"
	default:
		return "a valid value"
	}
}

// decodeRequest reads and decodes the body of r into v.
func decodeRequest(r *http.Request, v any) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	return decodeJSON(b, v)
}

// idParam parses the {id} URL parameter. A malformed id cannot name a
// resource, so it is a 404, not a 422.
func idParam(r *http.Request, what string) (int64, error) {
	raw := chi.URLParam(r, "id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return 0, notFound("no %s with id %q", what, raw)
	}
	return id, nil
}

// getOne answers GET /{what}s/{id}: the id, one fetch, 404 naming the
// resource when it does not exist.
func getOne[T any](s *Server, w http.ResponseWriter, r *http.Request, what string, get func(context.Context, int64) (*T, error)) {
	id, err := idParam(r, what)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := get(r.Context(), id)
	if err != nil {
		s.writeError(w, r, s.missing(err, what, id))
		return
	}
	setETag(w, versionOf(v))
	writeJSON(w, http.StatusOK, v)
}

// writeCreated answers 201 with the new resource v and its Location
// (Prefix/collection/id).
func writeCreated(w http.ResponseWriter, collection string, id int64, v any) {
	w.Header().Set("Location", fmt.Sprintf("%s/%s/%d", Prefix, collection, id))
	setETag(w, versionOf(v))
	writeJSON(w, http.StatusCreated, v)
}

// Pagination limits.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 200
)

// listResponse is the shape of every list: items and the cursor of the next
// page ("" on the last page).
type listResponse[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// listPage answers a list request: the page parameters (?limit, ?cursor),
// one fetch, and {"items": [...], "next_cursor": ...}.
func listPage[T any](s *Server, w http.ResponseWriter, r *http.Request, fetch func(context.Context, store.Page) ([]T, string, error)) {
	page, err := pageParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	items, next, err := fetch(r.Context(), page)
	if err != nil {
		s.writeError(w, r, pageError(err))
		return
	}
	writeJSON(w, http.StatusOK, newList(items, next))
}

func newList[T any](items []T, next string) listResponse[T] {
	if items == nil {
		items = []T{}
	}
	return listResponse[T]{Items: items, NextCursor: next}
}

// queryInt parses an optional positive integer query parameter.
func queryInt(r *http.Request, name string) (int64, error) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n <= 0 {
		return 0, invalid(name, "must be a positive integer, got %q", raw)
	}
	return n, nil
}

// pageParams reads ?limit= and ?cursor=.
func pageParams(r *http.Request) (store.Page, error) {
	limit, err := queryInt(r, "limit")
	if err != nil {
		return store.Page{}, err
	}
	if limit > MaxPageLimit {
		return store.Page{}, invalid("limit", "must be at most %d, got %d", MaxPageLimit, limit)
	}
	if limit == 0 {
		limit = DefaultPageLimit
	}
	return store.Page{Limit: int(limit), Cursor: r.URL.Query().Get("cursor")}, nil
}

// pageError makes a store complaint about the cursor name the cursor.
func pageError(err error) error {
	ae := asError(err)
	if ae.Kind != ErrInvalid {
		return err // keep the original for the log
	}
	if ae.Field == "" {
		ae.Field = "cursor"
	}
	return ae
}
