package api

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// Query parameters of the lists: a name not listed is a 400 naming it,
// so a misspelt filter ("updated_snice") is not silently ignored and the
// whole collection returned.
var (
	pageQuery        = []string{"limit", "cursor"}
	sinceQuery       = []string{"updated_since", "created_since"}
	customerQuery    = concat(pageQuery, sinceQuery, []string{"phone", "email", "tier", "external_id", "q"})
	ticketQuery      = concat(pageQuery, sinceQuery, []string{"customer_id", "status", "category", "external_id", "q"})
	interactionQuery = concat(pageQuery, sinceQuery, []string{"customer_id", "ticket_id", "channel"})
	callbackQuery    = concat(pageQuery, []string{"queue", "state", "customer_id", "ticket_id", "number"})
	lookupQuery      = []string{"phone", "email"}
)

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// checkQuery answers 400 (unknown_parameter) for the first query
// parameter, in name order, that is not one of allowed.
func checkQuery(r *http.Request, allowed []string) error {
	var unknown []string
	for name := range r.URL.Query() {
		ok := false
		for _, a := range allowed {
			ok = ok || a == name
		}
		if !ok {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return &Error{Kind: ErrUnknownParam, Field: unknown[0],
		Message: fmt.Sprintf("unknown query parameter %q; this list takes %s", unknown[0], orList(allowed))}
}

// sinceParams reads ?updated_since= and ?created_since= (RFC 3339).
func sinceParams(r *http.Request) (store.Since, error) {
	var s store.Since
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"updated_since", &s.Updated}, {"created_since", &s.Created}} {
		raw := r.URL.Query().Get(p.name)
		if raw == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, raw)
		if err != nil {
			return s, invalid(p.name, "must be an RFC 3339 time like 2026-01-02T15:04:05Z, got %q", raw)
		}
		*p.dst = t.UTC()
	}
	return s, nil
}

// versionOf is the entity tag's version of a resource the API answers
// with (0: none).
func versionOf(v any) int64 {
	switch x := v.(type) {
	case *store.Customer:
		return x.Version
	case store.Customer:
		return x.Version
	case *store.Ticket:
		return x.Version
	case store.Ticket:
		return x.Version
	case *store.Interaction:
		return x.Version
	case store.Interaction:
		return x.Version
	}
	return 0
}

// preconditionFailed is the 412 of a stale If-Match, with the current ETag.
func preconditionFailed(w http.ResponseWriter, what string, id, current int64) error {
	setETag(w, current)
	return &Error{Kind: ErrPrecondition, Field: "If-Match", Message: fmt.Sprintf("the %s changed: its ETag is now %q; GET it again and reapply the change",
		what, `"`+strconv.FormatInt(current, 10)+`"`)}
}

// ifMatchStale checks If-Match against the version just read: 0 (no
// If-Match) or the version to make the update conditional on.
func ifMatchStale(w http.ResponseWriter, r *http.Request, what string, id, current int64) (int64, error) {
	want, err := ifMatch(r)
	if err != nil || want == 0 {
		return 0, err
	}
	if want != current {
		return 0, preconditionFailed(w, what, id, current)
	}
	return want, nil
}

// staleWrite turns the store's ErrVersion (the row changed between the
// read and the conditional update) into the 412, re-reading the version.
func staleWrite(w http.ResponseWriter, err error, what string, id int64, current func() (int64, error)) error {
	if !errors.Is(err, store.ErrVersion) {
		return err
	}
	v, gerr := current()
	if gerr != nil {
		return gerr
	}
	return preconditionFailed(w, what, id, v)
}
