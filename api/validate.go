package api

import (
	"errors"
	"slices"

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

func oneOf(v string, allowed ...string) bool { return slices.Contains(allowed, v) }

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// missing turns the store's not-found into a 404 that names the resource.
func (s *Server) missing(err error, what string, id int64) error {
	if isNotFound(err) {
		return notFound("no %s with id %d", what, id)
	}
	return err
}
