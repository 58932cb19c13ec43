package api

import (
	"errors"
	"slices"
	"strings"

	"github.com/hotline-dev/hotline/store"
)

// Size limits for text fields (bytes).
const (
	maxShort      = 200  // names of things: category, tag, assignee, chat handle, attribute key
	maxText       = 1000 // subjects, summaries, attribute values
	maxAttributes = 100  // attributes per customer
	maxTags       = 50   // tags per ticket
)

func setIf[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

func oneOf[T ~string](v T, allowed ...T) bool { return slices.Contains(allowed, v) }

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// missing turns the store's not-found into a 404 that names the resource.
func (s *Server) missing(err error, what string, id int64) error {
	if isNotFound(err) {
		return notFound("no %s with id %d", what, id)
	}
	return err
}

// tierNames is "vip, standard or new", from the store's one list.
var tierNames = orList(store.Tiers)

// orList joins names as prose: "a, b or c".
func orList[T ~string](values []T) string {
	names := make([]string, len(values))
	for i, v := range values {
		names[i] = string(v)
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// problems collects every invalid value of a request body, so one answer
// names them all (the "errors" list of a 422), not only the first.
type problems []*Error

// add records one invalid field.
func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, invalid(field, format, args...))
}

// addErr records err when it is an invalid value (a 422); any other error
// is returned, for the caller to stop on.
func (p *problems) addErr(err error) error {
	var ae *Error
	if err == nil {
		return nil
	}
	if errors.As(err, &ae) && ae.Kind == ErrInvalid {
		if len(ae.Issues) > 0 {
			*p = append(*p, ae.Issues...)
		} else {
			*p = append(*p, ae)
		}
		return nil
	}
	return err
}

// err is nil, or the first problem (its field and message are the
// answer's "field" and "message", as before) carrying them all.
func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	first := *p[0]
	first.Issues = append([]*Error(nil), p...)
	return &first
}

// jsonPointer turns a field path of this API ("phones[1]", "voice.call_id")
// into a JSON pointer into the request body (RFC 6901: "/phones/1",
// "/voice/call_id").
func jsonPointer(field string) string {
	if field == "" {
		return ""
	}
	var b strings.Builder
	for _, part := range strings.Split(strings.ReplaceAll(strings.ReplaceAll(field, "[", "."), "]", ""), ".") {
		if part == "" {
			continue
		}
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~", "~0"), "/", "~1")
		b.WriteString("/" + part)
	}
	return b.String()
}
