package sqlcore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/phone"
	"github.com/hotline-dev/hotline/store"
)

var _ store.Callbacks = (*Store)(nil)

// callbackCols are the callbacks columns in the order scanCallback reads.
const callbackCols = `id, customer_id, ticket_id, queue, number, mode, source, state, tier, joined_at, not_before, expires_at,
	attempts, max_attempts, interrupted, claimed_by, version, outcome, call_id, from_tag, language, created_at, updated_at`

const openStates = `('waiting', 'dialling', 'connected')`

type scanner interface{ Scan(dest ...any) error }

func scanCallback(r scanner) (store.Callback, error) {
	var c store.Callback
	var claimed *string
	err := r.Scan(&c.ID, &c.CustomerID, &c.TicketID, &c.Queue, &c.Number, &c.Mode, &c.Source, &c.State, &c.Tier,
		ts(&c.JoinedAt), ts(&c.NotBefore), ts(&c.ExpiresAt), &c.Attempts, &c.MaxAttempts, &c.Interrupted, &claimed,
		&c.Version, &c.Outcome, &c.CallID, &c.FromTag, &c.Language, ts(&c.CreatedAt), ts(&c.UpdatedAt))
	c.ClaimedBy = deref(claimed)
	return c, err
}

func queryCallbacks(ctx context.Context, q Querier, sql string, args ...any) ([]store.Callback, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.Callback{}
	for rows.Next() {
		c, err := scanCallback(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

const attemptCols = `attempt, claimed_by, started_at, ended_at, result, trunk, agent, call_id, from_tag, sip_status, reason,
	answered_at, confirmed_at, talk_seconds, interaction_id`

func queryAttempts(ctx context.Context, q Querier, sql string, args ...any) ([]store.CallbackAttempt, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.CallbackAttempt{}
	for rows.Next() {
		var a store.CallbackAttempt
		var result *string
		if err := rows.Scan(&a.Attempt, &a.ClaimedBy, ts(&a.StartedAt), tsNull(&a.EndedAt), &result, &a.Trunk, &a.Agent,
			&a.CallID, &a.FromTag, &a.SIPStatus, &a.Reason, tsNull(&a.AnsweredAt), tsNull(&a.ConfirmedAt), &a.TalkSeconds,
			&a.InteractionID); err != nil {
			return nil, err
		}
		a.Result = store.AttemptResult(deref(result))
		out = append(out, a)
	}
	return out, rows.Err()
}

// RequestCallback records a request; see store.Callbacks.
func (s *Store) RequestCallback(ctx context.Context, r store.CallbackRequest) (store.Callback, error) {
	if err := s.normCallbackRequest(&r); err != nil {
		return store.Callback{}, s.wrap("request callback", err)
	}
	op := fmt.Sprintf("request callback to %s in queue %s", r.Number, r.Queue)
	var out store.Callback
	var dup bool
	var err error
	for attempt := 0; ; attempt++ {
		err = s.c.Tx(ctx, func(q Querier) error {
			rows, err := queryCallbacks(ctx, q, `SELECT `+callbackCols+` FROM callbacks WHERE number = $1 AND queue = $2 AND state IN `+openStates,
				r.Number, r.Queue)
			if err != nil {
				return err
			}
			if len(rows) > 0 {
				out, dup = rows[0], true
				return nil
			}
			out, dup = store.Callback{}, false
			if err := s.checkBounds(ctx, q, &r); err != nil {
				return err
			}
			out, err = s.insertCallback(ctx, q, &r)
			return err
		})
		// A racing request for the same number (or a racing new caller)
		// won: the next round finds its row.
		retry := s.d.Unique(err) || (s.d.Transient != nil && s.d.Transient(err))
		if err == nil || !retry || attempt == conflictRetries || ctx.Err() != nil {
			break
		}
	}
	var bound *store.CallbackBoundError
	if errors.As(err, &bound) {
		return store.Callback{}, bound
	}
	if err != nil {
		return store.Callback{}, s.wrap(op, err)
	}
	if dup {
		return out, &store.DuplicateCallbackError{Existing: out}
	}
	return out, nil
}

// checkBounds refuses r when a bound of r.Bounds is used up: the
// limit-th newest callback created in the window (per number, per source,
// in all) exists; the retry is when it leaves the window. In the insert's
// transaction, after the dialect's lock, so racing processes count each
// other's rows.
func (s *Store) checkBounds(ctx context.Context, q Querier, r *store.CallbackRequest) error {
	b := r.Bounds
	if b == nil || b.Window <= 0 {
		return nil
	}
	if s.d.BoundsLock != "" {
		if err := q.Exec(ctx, s.d.BoundsLock); err != nil {
			return err
		}
	}
	since := r.At.Add(-b.Window)
	for _, c := range []struct {
		bound, where string
		limit        int
		args         []any
	}{
		{"per_number", " AND number = $3", b.PerNumber, []any{r.Number}},
		{"per_source", " AND source_key = $3", b.PerSource, []any{r.SourceKey}},
		{"total", "", b.Total, nil},
	} {
		if c.limit <= 0 || (c.bound == "per_source" && r.SourceKey == "") {
			continue
		}
		var at time.Time
		err := q.QueryRow(ctx, `SELECT created_at FROM callbacks WHERE created_at > $1`+c.where+`
			ORDER BY created_at DESC LIMIT 1 OFFSET $2`, append([]any{s.d.Time(since), c.limit - 1}, c.args...)...).Scan(ts(&at))
		switch {
		case errors.Is(err, ErrNoRows):
			continue
		case err != nil:
			return fmt.Errorf("count %s: %w", c.bound, err)
		}
		return &store.CallbackBoundError{Bound: c.bound, RetryAfter: max(at.Add(b.Window).Sub(r.At), time.Second)}
	}
	return nil
}

var (
	callbackModes   = []string{string(store.CallbackCustomerFirst), string(store.CallbackAgentFirst)}
	callbackSources = []string{string(store.SourceVirtualHold), string(store.SourceIVR), string(store.SourceAPI)}
	tiers           = append([]store.Tier{""}, store.Tiers...)
)

func (s *Store) normCallbackRequest(r *store.CallbackRequest) error {
	r.Queue = strings.TrimSpace(r.Queue)
	if r.Queue == "" {
		return fieldErr("queue", "required")
	}
	e, err := phone.Normalize(r.Number, s.country)
	if err != nil {
		return fieldErr("number", "%q is not a phone number", r.Number)
	}
	r.Number = e
	if r.Mode == "" {
		r.Mode = store.CallbackCustomerFirst
	}
	if err := oneOf("mode", string(r.Mode), callbackModes...); err != nil {
		return err
	}
	if err := oneOf("source", string(r.Source), callbackSources...); err != nil {
		return err
	}
	if err := oneOf("tier", r.Tier, tiers...); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"queue", r.Queue}, {"caller", r.Caller}, {"call_id", r.CallID},
		{"from_tag", r.FromTag}, {"category", r.Category}, {"language", r.Language}, {"note", r.Note}} {
		if err := checkText(f.name, f.v, 500); err != nil {
			return err
		}
	}
	if r.CustomerID < 0 || r.TicketID < 0 {
		return fieldErr("customer_id", "must not be negative")
	}
	if r.MaxAttempts < 1 {
		return fieldErr("max_attempts", "at least 1")
	}
	if r.At.IsZero() {
		r.At = s.clock()
	}
	r.At = micro(r.At)
	if r.JoinedAt.IsZero() {
		r.JoinedAt = r.At
	}
	if r.NotBefore.IsZero() {
		r.NotBefore = r.At
	}
	r.JoinedAt, r.NotBefore, r.ExpiresAt = micro(r.JoinedAt), micro(r.NotBefore), micro(r.ExpiresAt)
	if !r.ExpiresAt.After(r.NotBefore) {
		return fieldErr("expires_at", "must be after not_before (%s)", r.NotBefore.Format(time.RFC3339))
	}
	r.Category = normCategory(r.Category)
	return nil
}

// callbackNote is the details JSON of every interaction a callback writes.
type callbackNote struct {
	ID        int64                `json:"id"`
	Event     string               `json:"event"`
	Queue     string               `json:"queue"`
	Number    string               `json:"number"`
	Source    store.CallbackSource `json:"source,omitempty"`
	Mode      store.CallbackMode   `json:"mode,omitempty"`
	State     store.CallbackState  `json:"state,omitempty"`
	Attempt   int                  `json:"attempt,omitempty"`
	Result    store.AttemptResult  `json:"result,omitempty"`
	SIPStatus int                  `json:"sip_status,omitempty"`
	Reason    string               `json:"reason,omitempty"`
	Trunk     string               `json:"trunk,omitempty"`
	Agent     string               `json:"agent,omitempty"`
	NotBefore *time.Time           `json:"not_before,omitempty"`
	ExpiresAt *time.Time           `json:"expires_at,omitempty"`
	CallID    string               `json:"call_id,omitempty"` // the call it was asked from
	FromTag   string               `json:"from_tag,omitempty"`
	By        string               `json:"by,omitempty"`
}

func (n callbackNote) details() json.RawMessage {
	b, _ := json.Marshal(map[string]callbackNote{"callback": n}) // plain fields always marshal
	return b
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (s *Store) insertCallback(ctx context.Context, q Querier, r *store.CallbackRequest) (store.Callback, error) {
	customer, ticket, err := s.callbackTicket(ctx, q, r)
	if err != nil {
		return store.Callback{}, err
	}
	c := store.Callback{CustomerID: customer, TicketID: ticket, Queue: r.Queue, Number: r.Number, Mode: r.Mode, Source: r.Source,
		State: store.CallbackWaiting, Tier: r.Tier, JoinedAt: r.JoinedAt, NotBefore: r.NotBefore, ExpiresAt: r.ExpiresAt,
		MaxAttempts: r.MaxAttempts, Version: 1, CallID: r.CallID, FromTag: r.FromTag, Language: r.Language,
		CreatedAt: r.At, UpdatedAt: r.At}
	if err := q.QueryRow(ctx, `INSERT INTO callbacks (customer_id, ticket_id, queue, number, mode, source, state, tier, joined_at,
		not_before, expires_at, max_attempts, call_id, from_tag, language, created_at, updated_at, source_key)
		VALUES ($1, $2, $3, $4, $5, $6, 'waiting', $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, $16) RETURNING id`,
		customer, ticket, c.Queue, c.Number, string(c.Mode), string(c.Source), string(c.Tier), s.d.Time(c.JoinedAt), s.d.Time(c.NotBefore),
		s.d.Time(c.ExpiresAt), c.MaxAttempts, c.CallID, c.FromTag, c.Language, s.d.Time(r.At), r.SourceKey).Scan(&c.ID); err != nil {
		return store.Callback{}, err
	}
	summary := fmt.Sprintf("Callback requested to %s, queue %s (%s)", c.Number, c.Queue, sourcePhrase(c.Source))
	if c.NotBefore.After(r.At) {
		summary += ", from " + c.NotBefore.Format(time.RFC3339)
	}
	if r.Note != "" {
		summary += "; " + r.Note
	}
	note := callbackNote{ID: c.ID, Event: "requested", Queue: c.Queue, Number: c.Number, Source: c.Source, Mode: c.Mode,
		NotBefore: timePtr(c.NotBefore), ExpiresAt: timePtr(c.ExpiresAt), CallID: c.CallID, FromTag: c.FromTag}
	at := r.At
	in := store.Interaction{CustomerID: customer, TicketID: ticket, Channel: store.ChannelVoice, Direction: store.DirectionInbound,
		StartedAt: at, EndedAt: &at, Summary: summary, Details: note.details()}
	if err := insertInteraction(ctx, q, s.d, &in, r.At); err != nil {
		return store.Callback{}, err
	}
	return c, q.Exec(ctx, `UPDATE tickets SET updated_at = $1 WHERE id = $2`, s.d.Time(r.At), ticket)
}

func sourcePhrase(src store.CallbackSource) string {
	switch src {
	case store.SourceVirtualHold:
		return "asked while waiting in the queue"
	case store.SourceIVR:
		return "asked in the phone menu"
	}
	return "asked through the API"
}

// callbackTicket finds the customer and ticket a request belongs to; see
// store.CallbackRequest.
func (s *Store) callbackTicket(ctx context.Context, q Querier, r *store.CallbackRequest) (customer, ticket int64, err error) {
	if r.TicketID != 0 {
		err := q.QueryRow(ctx, `SELECT customer_id FROM tickets WHERE id = $1`, r.TicketID).Scan(&customer)
		if errors.Is(err, ErrNoRows) {
			return 0, 0, fieldErr("ticket_id", "no ticket %d", r.TicketID)
		}
		if err != nil {
			return 0, 0, err
		}
		if r.CustomerID != 0 && r.CustomerID != customer {
			return 0, 0, fieldErr("ticket_id", "ticket %d belongs to customer %d", r.TicketID, customer)
		}
		return customer, r.TicketID, nil
	}
	if r.CallID != "" && r.CustomerID == 0 {
		var t *int64
		err := q.QueryRow(ctx, `SELECT i.customer_id, i.ticket_id FROM voice_calls v JOIN interactions i ON i.id = v.interaction_id
			WHERE v.call_id = $1 AND v.from_tag = $2`, r.CallID, r.FromTag).Scan(&customer, &t)
		if err == nil && t != nil {
			return customer, *t, nil
		}
		if err != nil && !errors.Is(err, ErrNoRows) {
			return 0, 0, err
		}
	}
	customer = r.CustomerID
	shown := r.Number
	if customer != 0 {
		if err := customerExists(ctx, q, customer); err != nil {
			return 0, 0, err
		}
	} else {
		raw := r.Caller
		if strings.TrimSpace(raw) == "" {
			raw = r.Number
		}
		var k callerKey
		k, shown = s.callerKeyOf(raw)
		err := q.QueryRow(ctx, `SELECT customer_id FROM customer_contacts WHERE kind = $1 AND value = $2`, k.kind, k.value).Scan(&customer)
		if errors.Is(err, ErrNoRows) {
			cust := map[callerKey]int64{}
			if err := s.createCallers(ctx, q, []callerKey{k}, cust, r.At); err != nil {
				return 0, 0, err
			}
			customer = cust[k]
		} else if err != nil {
			return 0, 0, err
		}
	}
	// The rule LogCall applies to the call: the newest open or pending
	// ticket of the customer in the category, else a new one.
	err = q.QueryRow(ctx, `SELECT id FROM tickets WHERE customer_id = $1 AND category = $2 AND status IN ('open', 'pending')
		ORDER BY id DESC LIMIT 1`, customer, r.Category).Scan(&ticket)
	if err == nil {
		return customer, ticket, nil
	}
	if !errors.Is(err, ErrNoRows) {
		return 0, 0, err
	}
	err = q.QueryRow(ctx, `INSERT INTO tickets (customer_id, subject, category, tags, status, priority, assignee, channel, created_at, updated_at)
		VALUES ($1, $2, $3, '[]', 'open', 'normal', '', 'voice', $4, $4) RETURNING id`,
		customer, "Callback for "+shown+" — "+r.Category, r.Category, s.d.Time(r.At)).Scan(&ticket)
	return customer, ticket, err
}

// GetCallback returns the callback with its attempts, or ErrNotFound.
func (s *Store) GetCallback(ctx context.Context, id int64) (*store.Callback, error) {
	op := "get callback " + strconv.FormatInt(id, 10)
	cs, err := queryCallbacks(ctx, s.c, `SELECT `+callbackCols+` FROM callbacks WHERE id = $1`, id)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	if len(cs) == 0 {
		return nil, s.wrap(op, store.ErrNotFound)
	}
	c := cs[0]
	c.Calls, err = queryAttempts(ctx, s.c, `SELECT `+attemptCols+` FROM callback_attempts WHERE callback_id = $1 ORDER BY attempt`, id)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	return &c, nil
}

// ListCallbacks lists newest first (id descending).
func (s *Store) ListCallbacks(ctx context.Context, f store.CallbackFilter, p store.Page) ([]store.Callback, string, error) {
	const op = "list callbacks"
	limit, err := pageLimit(p)
	if err != nil {
		return nil, "", s.wrap(op, err)
	}
	cur, hasCur, err := decodeCursor(p.Cursor, "k")
	if err != nil {
		return nil, "", s.wrap(op, err)
	}
	var q listQuery
	if f.Queue != "" {
		q.and(`queue = ` + q.arg(f.Queue))
	}
	switch {
	case f.State == store.CallbackOpen:
		q.and(`state IN ` + openStates)
	case f.State != "":
		if err := oneOf("state", string(f.State), callbackStateNames()...); err != nil {
			return nil, "", s.wrap(op, err)
		}
		q.and(`state = ` + q.arg(string(f.State)))
	}
	if f.CustomerID != 0 {
		q.and(`customer_id = ` + q.arg(f.CustomerID))
	}
	if f.TicketID != 0 {
		q.and(`ticket_id = ` + q.arg(f.TicketID))
	}
	if f.Number != "" {
		e, err := phone.Normalize(f.Number, s.country)
		if err != nil {
			return nil, "", s.wrap(op, fieldErr("number", "%q is not a phone number", f.Number))
		}
		q.and(`number = ` + q.arg(e))
	}
	if hasCur {
		q.and(`id < ` + q.arg(cur.id))
	}
	cs, err := queryCallbacks(ctx, s.c, q.sql(`SELECT `+callbackCols+` FROM callbacks`, `id DESC`, limit), q.args...)
	if err != nil {
		return nil, "", s.wrap(op, err)
	}
	cs, next := nextPage(cs, limit, func(c store.Callback) cursor { return cursor{kind: "k", id: c.ID} })
	return cs, next, nil
}

func callbackStateNames() []string {
	out := []string{string(store.CallbackOpen)}
	for _, st := range store.CallbackStates {
		out = append(out, string(st))
	}
	return out
}

// OpenCallbacks lists every open callback by queue, join time and id.
func (s *Store) OpenCallbacks(ctx context.Context) ([]store.Callback, error) {
	cs, err := queryCallbacks(ctx, s.c, `SELECT `+callbackCols+` FROM callbacks WHERE state IN `+openStates+` ORDER BY queue, joined_at, id`)
	return cs, s.wrap("load open callbacks", err)
}

// CountCallbacks counts callbacks that ended at or after since.
func (s *Store) CountCallbacks(ctx context.Context, since time.Time) ([]store.CallbackCount, error) {
	rows, err := s.c.Query(ctx, `SELECT queue, state, count(*) FROM callbacks
		WHERE state IN ('completed', 'failed', 'expired', 'cancelled') AND updated_at >= $1 GROUP BY queue, state ORDER BY queue, state`,
		s.d.Time(micro(since)))
	if err != nil {
		return nil, s.wrap("count callbacks", err)
	}
	defer rows.Close()
	out := []store.CallbackCount{}
	for rows.Next() {
		var c store.CallbackCount
		if err := rows.Scan(&c.Queue, &c.State, &c.N); err != nil {
			return nil, s.wrap("count callbacks", err)
		}
		out = append(out, c)
	}
	return out, s.wrap("count callbacks", rows.Err())
}

// OldestCallbacks is, per queue, the due waiting callback that joined first.
func (s *Store) OldestCallbacks(ctx context.Context, at time.Time) ([]store.Callback, error) {
	cs, err := queryCallbacks(ctx, s.c, `SELECT `+callbackCols+` FROM (
		SELECT c.*, row_number() OVER (PARTITION BY queue ORDER BY joined_at, id) AS n
		FROM callbacks c WHERE state = 'waiting' AND not_before <= $1 AND expires_at > $1) o
		WHERE n = 1 ORDER BY queue`, s.d.Time(micro(at)))
	return cs, s.wrap("oldest callbacks", err)
}

// stale explains why a conditional update of callback id matched no row:
// not found, another version, or a state (or time) that does not allow it.
func stale(ctx context.Context, q Querier, id, version int64, what string) error {
	cs, err := queryCallbacks(ctx, q, `SELECT `+callbackCols+` FROM callbacks WHERE id = $1`, id)
	switch {
	case err != nil:
		return err
	case len(cs) == 0:
		return store.ErrNotFound
	case version != 0 && cs[0].Version != version:
		return fmt.Errorf("%w: callback %d is at version %d, not %d", store.ErrVersion, id, cs[0].Version, version)
	}
	return &store.ConflictError{Field: "state", Message: fmt.Sprintf("callback %d is %s (attempt %d of %d): cannot %s it",
		id, cs[0].State, cs[0].Attempts, cs[0].MaxAttempts, what)}
}

func lockedCallback(ctx context.Context, q Querier, sql string, args ...any) (store.Callback, bool, error) {
	cs, err := queryCallbacks(ctx, q, sql, args...)
	if err != nil || len(cs) == 0 {
		return store.Callback{}, false, err
	}
	return cs[0], true, nil
}
