package sqlcore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/hotline-dev/hotline/phone"
	"github.com/hotline-dev/hotline/store"
)

// Kinds of owner in external_ids and search_terms.
const (
	ownerCustomer = "c"
	ownerTicket   = "t"
)

// Fold lowers s and removes its accents (NFD, then no combining marks;
// đ/Đ, which do not decompose, become d), so that a Vietnamese name can
// be found typed without diacritics: "Nguyễn Văn Đức" → "nguyen van duc".
func Fold(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case r == 'đ' || r == 'Đ':
			b.WriteRune('d')
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// Terms are the distinct folded words of s, the rows search_terms keeps.
func Terms(s string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(Fold(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if len(w) > 100 {
			w = w[:100]
		}
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

func writeTerms(ctx context.Context, q Querier, kind string, id int64, text string) error {
	if err := q.Exec(ctx, `DELETE FROM search_terms WHERE kind = $1 AND entity_id = $2`, kind, id); err != nil {
		return err
	}
	for _, t := range Terms(text) {
		if err := q.Exec(ctx, `INSERT INTO search_terms (kind, term, entity_id) VALUES ($1, $2, $3)`, kind, t, id); err != nil {
			return err
		}
	}
	return nil
}

// insertTerms writes the terms of new rows (LogCalls' batch) in one
// statement per 300 terms, not one per row.
func insertTerms(ctx context.Context, q Querier, kind string, texts map[int64]string) error {
	var vals []string
	var args []any
	flush := func() error {
		if len(vals) == 0 {
			return nil
		}
		err := q.Exec(ctx, `INSERT INTO search_terms (kind, term, entity_id) VALUES `+strings.Join(vals, ", ")+
			` ON CONFLICT DO NOTHING`, args...)
		vals, args = vals[:0], args[:0]
		return err
	}
	for id, text := range texts {
		for _, t := range Terms(text) {
			n := len(args)
			vals = append(vals, fmt.Sprintf("($%d, $%d, $%d)", n+1, n+2, n+3))
			args = append(args, kind, t, id)
			if len(vals) == 300 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// ParseExternalID reads "source:id" (the id may itself hold colons).
func ParseExternalID(s string) (store.ExternalID, bool) {
	src, id, ok := strings.Cut(s, ":")
	if !ok || strings.TrimSpace(src) == "" || strings.TrimSpace(id) == "" {
		return store.ExternalID{}, false
	}
	return normExternalID(store.ExternalID{Source: src, ID: id}), true
}

// normExternalID: sources are case-insensitive names, ids are kept as the
// desk wrote them (some desks' ids are case-sensitive) but trimmed.
func normExternalID(e store.ExternalID) store.ExternalID {
	return store.ExternalID{Source: strings.ToLower(strings.TrimSpace(e.Source)), ID: strings.TrimSpace(e.ID)}
}

// normExternalIDs validates and normalises in place; a source may appear
// once per owner (a desk has one id for a customer).
func normExternalIDs(ids []store.ExternalID) ([]store.ExternalID, error) {
	var errs []error
	out := []store.ExternalID{}
	for i, e := range ids {
		e = normExternalID(e)
		f := fmt.Sprintf("external_ids[%d]", i)
		if e.Source == "" || checkText("", e.Source, 50) != nil || strings.ContainsAny(e.Source, ": \t\r\n") {
			errs = append(errs, fieldErr(f+".source", "required: a name of up to 50 characters without ':' or spaces"))
		}
		if e.ID == "" || checkText("", e.ID, 200) != nil {
			errs = append(errs, fieldErr(f+".id", "required, up to 200 characters"))
		}
		if slices.ContainsFunc(out, func(o store.ExternalID) bool { return o.Source == e.Source }) {
			errs = append(errs, fieldErr(f+".source", "%q appears twice", e.Source))
		}
		out = append(out, e)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// claimExternalIDs fails with a ConflictError naming the other owner when
// an id is taken, then (re)writes id's external ids. The caller updates
// the owner's row in the same transaction (the change for sync).
func claimExternalIDs(ctx context.Context, q Querier, kind string, id int64, ids []store.ExternalID) error {
	what := map[string]string{ownerCustomer: "customer", ownerTicket: "ticket"}[kind]
	for i, e := range ids {
		var owner int64
		err := q.QueryRow(ctx, `SELECT entity_id FROM external_ids WHERE kind = $1 AND source = $2 AND external_id = $3`,
			kind, e.Source, e.ID).Scan(&owner)
		if err == nil && owner != id {
			return &store.ConflictError{Field: fmt.Sprintf("external_ids[%d]", i),
				Message: fmt.Sprintf("%q belongs to %s %d", e.String(), what, owner)}
		}
		if err != nil && !errors.Is(err, ErrNoRows) {
			return err
		}
	}
	if err := q.Exec(ctx, `DELETE FROM external_ids WHERE kind = $1 AND entity_id = $2`, kind, id); err != nil {
		return err
	}
	for pos, e := range ids {
		if err := q.Exec(ctx, `INSERT INTO external_ids (kind, source, external_id, entity_id, position) VALUES ($1, $2, $3, $4, $5)`,
			kind, e.Source, e.ID, id, pos); err != nil {
			return err
		}
	}
	return nil
}

// loadExternalIDs reads the external ids of the given owners (at most one
// page: the ids go into an IN list).
func loadExternalIDs(ctx context.Context, q Querier, kind string, ids []int64) (map[int64][]store.ExternalID, error) {
	out := map[int64][]store.ExternalID{}
	if len(ids) == 0 {
		return out, nil
	}
	ph := make([]string, len(ids))
	args := []any{kind}
	for i, id := range ids {
		ph[i] = "$" + strconv.Itoa(i+2)
		args = append(args, id)
	}
	rows, err := q.Query(ctx, `SELECT entity_id, source, external_id FROM external_ids
		WHERE kind = $1 AND entity_id IN (`+strings.Join(ph, ",")+`) ORDER BY entity_id, position`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var e store.ExternalID
		if err := rows.Scan(&id, &e.Source, &e.ID); err != nil {
			return nil, err
		}
		out[id] = append(out[id], e)
	}
	return out, rows.Err()
}

// externalIDCond is the condition "col is the owner of e".
func externalIDCond(q *listQuery, kind, col string, e store.ExternalID) string {
	e = normExternalID(e)
	return col + ` IN (SELECT entity_id FROM external_ids WHERE kind = ` + q.arg(kind) + ` AND source = ` + q.arg(e.Source) +
		` AND external_id = ` + q.arg(e.ID) + `)`
}

// searchCond is the condition of a search: any of the readings of text
// (a phone number, an email, an external id, words of the name or
// subject). The readings are one UNION of indexed look-ups (a range scan
// of search_terms for the words) that col must be in: an OR of IN
// subqueries made PostgreSQL scan the owners' table (33 ms at 100,000
// customers), the UNION is a semi-join on a handful of ids.
func (s *Store) searchCond(q *listQuery, kind, col, text string) string {
	text = strings.TrimSpace(text)
	var alts []string
	if kind == ownerCustomer {
		if e, err := phone.Normalize(text, s.country); err == nil {
			alts = append(alts, `SELECT customer_id FROM customer_contacts WHERE kind = 'phone' AND value = `+q.arg(e))
		}
		if strings.Contains(text, "@") {
			alts = append(alts, `SELECT customer_id FROM customer_contacts WHERE kind = 'email' AND value = `+q.arg(strings.ToLower(text)))
		}
	}
	if e, ok := ParseExternalID(text); ok {
		alts = append(alts, `SELECT entity_id FROM external_ids WHERE kind = `+q.arg(kind)+` AND source = `+q.arg(e.Source)+
			` AND external_id = `+q.arg(e.ID))
	}
	alts = append(alts, `SELECT entity_id FROM external_ids WHERE kind = `+q.arg(kind)+` AND external_id = `+q.arg(text))
	if words := Terms(text); len(words) > 0 {
		// Prefix match as a range: term >= w AND term < w+U+10FFFF uses
		// the (kind, term) index on both backends, LIKE may not. Every
		// word must match: the first word's range, narrowed by the others.
		prefix := func(w string) string {
			return `kind = ` + q.arg(kind) + ` AND term >= ` + q.arg(w) + ` AND term < ` + q.arg(w+"\U0010FFFF")
		}
		sel := `SELECT entity_id FROM search_terms WHERE ` + prefix(words[0])
		for _, w := range words[1:] {
			sel += ` AND entity_id IN (SELECT entity_id FROM search_terms WHERE ` + prefix(w) + `)`
		}
		alts = append(alts, sel)
	}
	return col + ` IN (` + strings.Join(alts, ` UNION `) + `)`
}

// BackfillTerms writes the search terms of customers and tickets that have
// none (rows written before migration 0012; their names and subjects need
// Fold, which SQL cannot do on both backends). Open runs it after the
// migrations: an anti-join on an index, nothing to do once done.
func (s *Store) BackfillTerms(ctx context.Context) error {
	for _, t := range []struct{ kind, sql string }{
		{ownerCustomer, `SELECT id, name FROM customers c WHERE name <> '' AND NOT EXISTS
			(SELECT 1 FROM search_terms t WHERE t.kind = 'c' AND t.entity_id = c.id)`},
		{ownerTicket, `SELECT id, subject FROM tickets k WHERE subject <> '' AND NOT EXISTS
			(SELECT 1 FROM search_terms t WHERE t.kind = 't' AND t.entity_id = k.id)`},
	} {
		err := s.c.Tx(ctx, func(q Querier) error {
			rows, err := q.Query(ctx, t.sql)
			if err != nil {
				return err
			}
			texts := map[int64]string{}
			for rows.Next() {
				var id int64
				var text string
				if err := rows.Scan(&id, &text); err != nil {
					rows.Close()
					return err
				}
				texts[id] = text
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			return insertTerms(ctx, q, t.kind, texts)
		})
		if err != nil {
			return s.wrap("backfill search terms", err)
		}
	}
	return nil
}
