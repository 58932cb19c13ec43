package sqlcore

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/store"
)

const (
	defaultLimit = 50
	maxLimit     = 500
)

// cursor is the keyset position after the last row of a page: the sort
// value (Unix microseconds, or unused) and the id. Encoded opaque.
type cursor struct {
	kind string
	at   int64
	id   int64
}

func (c cursor) encode() string {
	s := c.kind + ":" + strconv.FormatInt(c.at, 10) + ":" + strconv.FormatInt(c.id, 10)
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func decodeCursor(s, kind string) (cursor, bool, error) {
	if s == "" {
		return cursor{}, false, nil
	}
	bad := &store.FieldError{Field: "cursor", Message: "not a cursor from this list"}
	if len(s) > 200 {
		return cursor{}, false, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, false, bad
	}
	parts := strings.Split(string(b), ":")
	if len(parts) != 3 || parts[0] != kind {
		return cursor{}, false, bad
	}
	at, err1 := strconv.ParseInt(parts[1], 10, 64)
	id, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || id <= 0 {
		return cursor{}, false, bad
	}
	return cursor{kind: kind, at: at, id: id}, true, nil
}

func pageLimit(p store.Page) (int, error) {
	switch {
	case p.Limit < 0:
		return 0, &store.FieldError{Field: "limit", Message: "must not be negative"}
	case p.Limit == 0:
		return defaultLimit, nil
	case p.Limit > maxLimit:
		return 0, &store.FieldError{Field: "limit", Message: fmt.Sprintf("at most %d", maxLimit)}
	}
	return p.Limit, nil
}

// atCursor converts the cursor's time back for binding.
func atCursor(c cursor) time.Time { return time.UnixMicro(c.at).UTC() }

// listQuery builds a list's SELECT: filters joined with AND, numbered
// placeholders, and one row more than the page so the next page is known.
type listQuery struct {
	where []string
	args  []any
}

// arg binds v and returns its placeholder.
func (q *listQuery) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

// and adds one condition.
func (q *listQuery) and(cond string) { q.where = append(q.where, cond) }

// sql is base with the conditions, order and LIMIT limit+1.
func (q *listQuery) sql(base, order string, limit int) string {
	if len(q.where) > 0 {
		base += ` WHERE ` + strings.Join(q.where, ` AND `)
	}
	return base + ` ORDER BY ` + order + ` LIMIT ` + strconv.Itoa(limit+1)
}

// nextPage trims rows fetched with LIMIT limit+1 to the page and returns
// the cursor after its last row ("" on the last page).
func nextPage[T any](rows []T, limit int, after func(last T) cursor) ([]T, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	return rows, after(rows[limit-1]).encode()
}
