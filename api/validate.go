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
