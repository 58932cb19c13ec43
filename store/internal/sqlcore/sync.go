package sqlcore

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// syncCursor is the position of a sync list (store.Since): after the row
// (tx, id) in change order, with the list's Since kept so the next poll
// needs only the cursor.
type syncCursor struct {
	kind    string // "s" + the list's kind
	tx, id  int64
	since   store.Since
	present bool // decoded from a cursor (not a first page)
}

func (c syncCursor) encode() string {
	s := strings.Join([]string{c.kind, strconv.FormatInt(c.tx, 10), strconv.FormatInt(c.id, 10),
		micros(c.since.Updated), micros(c.since.Created)}, ":")
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func micros(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.UnixMicro(), 10)
}

func fromMicros(s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n == 0 {
		return time.Time{}, err
	}
	return time.UnixMicro(n).UTC(), nil
}

// decodeSyncCursor reads a sync cursor of the list kind; ok is false when
// s is not one (it may be a cursor of the ordinary list).
func decodeSyncCursor(s, kind string) (syncCursor, bool) {
	if s == "" || len(s) > 200 {
		return syncCursor{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return syncCursor{}, false
	}
	parts := strings.Split(string(b), ":")
	if len(parts) != 5 || parts[0] != "s"+kind {
		return syncCursor{}, false
	}
	tx, err1 := strconv.ParseInt(parts[1], 10, 64)
	id, err2 := strconv.ParseInt(parts[2], 10, 64)
	upd, err3 := fromMicros(parts[3])
	crt, err4 := fromMicros(parts[4])
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || id < 0 {
		return syncCursor{}, false
	}
	return syncCursor{kind: "s" + kind, tx: tx, id: id, since: store.Since{Updated: upd, Created: crt}, present: true}, true
}

// stamper gives the change_tx a batch statement writes into its rows: on
// SQLite the next value of the counter, one bump for the whole statement
// instead of one per row in the triggers (which skip rows stamped
// already), bound as a parameter of each row (in order, so positional
// still turns the text's $N into ?) so that a batch's text depends only on
// its size and its prepared statement is kept (store/sqlite/stmts.go); on
// PostgreSQL the literal 0, which its trigger replaces with the
// transaction id.
func (s *Store) stamper(ctx context.Context, q Querier) (func(*args) string, error) {
	if s.d.Stamp == "" {
		return func(*args) string { return "0" }, nil
	}
	var n int64
	if err := q.QueryRow(ctx, s.d.Stamp).Scan(&n); err != nil {
		return nil, err
	}
	return func(a *args) string { return a.add(n) }, nil
}

// syncPlan is how one list call runs: ordinary (newest or id order, the
// list's own cursor) or sync (change order, a syncCursor).
type syncPlan struct {
	on  bool
	cur syncCursor
}

// planSync decides whether a list call is a sync list and, when it is,
// adds its conditions to q: the position, the Since bounds on the
// updated and created columns, and (PostgreSQL) the horizon. alias is the
// table's alias in the query ("" for none).
func (s *Store) planSync(ctx context.Context, q *listQuery, kind, alias string, p store.Page, since store.Since, updated, created string) (syncPlan, error) {
	sc, isSync := decodeSyncCursor(p.Cursor, kind)
	if !isSync && since.IsZero() {
		return syncPlan{}, nil
	}
	if !isSync && p.Cursor != "" {
		return syncPlan{}, &store.FieldError{Field: "cursor", Message: "not a cursor of a list with updated_since or created_since"}
	}
	if isSync && !since.IsZero() && (!since.Updated.Equal(sc.since.Updated) || !since.Created.Equal(sc.since.Created)) {
		field := "updated_since"
		if since.Updated.Equal(sc.since.Updated) {
			field = "created_since"
		}
		return syncPlan{}, &store.FieldError{Field: field, Message: "differs from the cursor's; send the cursor alone"}
	}
	if !isSync {
		sc = syncCursor{kind: "s" + kind, since: since}
	}
	col := func(c string) string {
		if alias == "" {
			return c
		}
		return alias + "." + c
	}
	if s.d.SyncHorizon != "" {
		// The horizon comes from a snapshot taken before the rows are read:
		// every transaction below it had finished then, so its rows are all
		// visible to the read that follows, and any row that becomes
		// visible later carries a change_tx at or above it.
		var h int64
		if err := s.c.QueryRow(ctx, s.d.SyncHorizon).Scan(&h); err != nil {
			return syncPlan{}, err
		}
		q.and(col("change_tx") + ` < ` + q.arg(h))
	}
	if sc.present {
		q.and(`(` + col("change_tx") + `, ` + col("id") + `) > (` + q.arg(sc.tx) + `, ` + q.arg(sc.id) + `)`)
	}
	if !sc.since.Updated.IsZero() {
		q.and(updated + ` >= ` + q.arg(s.d.Time(sc.since.Updated)))
	}
	if !sc.since.Created.IsZero() {
		q.and(col(created) + ` >= ` + q.arg(s.d.Time(sc.since.Created)))
	}
	return syncPlan{on: true, cur: sc}, nil
}

// order is the ORDER BY of a sync list.
func (p syncPlan) order(alias string) string {
	if alias == "" {
		return `change_tx, id`
	}
	return alias + `.change_tx, ` + alias + `.id`
}

// page trims rows fetched with LIMIT limit+1 and returns the cursor after
// the last one: on every page, the last included, so the next poll asks
// for what was committed since.
func syncPage[T any](p syncPlan, rows []T, limit int, pos func(T) (tx, id int64)) ([]T, string) {
	if len(rows) > limit {
		rows = rows[:limit]
	}
	c := p.cur
	if len(rows) > 0 {
		c.tx, c.id = pos(rows[len(rows)-1])
	}
	return rows, c.encode()
}
