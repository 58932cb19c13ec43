package sqlcore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hotline-dev/hotline/store"
)

var _ store.Webhooks = (*Store)(nil)

const webhookSubCols = `id, url, secret, events, created_at, updated_at`

func scanWebhookSub(r interface{ Scan(...any) error }) (store.WebhookSubscription, error) {
	var w store.WebhookSubscription
	var ev []byte
	if err := r.Scan(&w.ID, &w.URL, &w.Secret, jsonDest{&ev}, ts(&w.CreatedAt), ts(&w.UpdatedAt)); err != nil {
		return w, err
	}
	if len(ev) > 0 {
		if err := json.Unmarshal(ev, &w.Events); err != nil {
			return w, fmt.Errorf("webhook %s: events: %w", w.ID, err)
		}
	}
	if w.Events == nil {
		w.Events = []string{}
	}
	return w, nil
}

func checkWebhookSub(w *store.WebhookSubscription) error {
	if err := checkText("id", w.ID, 100); err != nil {
		return err
	}
	if w.ID == "" {
		return fieldErr("id", "empty")
	}
	if err := checkText("url", w.URL, 2000); err != nil {
		return err
	}
	if w.URL == "" {
		return fieldErr("url", "empty")
	}
	return nil
}

func eventsJSON(ev []string) string {
	if ev == nil {
		ev = []string{}
	}
	b, _ := json.Marshal(ev)
	return string(b)
}

// CreateWebhook stores an API subscription.
func (s *Store) CreateWebhook(ctx context.Context, w *store.WebhookSubscription) error {
	if err := checkWebhookSub(w); err != nil {
		return s.wrap("create webhook", err)
	}
	if w.Secret == "" {
		return s.wrap("create webhook", fieldErr("secret", "empty"))
	}
	now := s.clock()
	err := s.c.Tx(ctx, func(q Querier) error {
		return q.Exec(ctx, `INSERT INTO webhook_subscriptions (`+webhookSubCols+`) VALUES ($1, $2, $3, $4, $5, $6)`,
			w.ID, w.URL, w.Secret, eventsJSON(w.Events), s.d.Time(now), s.d.Time(now))
	})
	if err == nil {
		w.CreatedAt, w.UpdatedAt = now, now
	}
	return s.wrap("create webhook "+w.ID, err)
}

// GetWebhook reads one API subscription.
func (s *Store) GetWebhook(ctx context.Context, id string) (*store.WebhookSubscription, error) {
	w, err := scanWebhookSub(s.c.QueryRow(ctx, `SELECT `+webhookSubCols+` FROM webhook_subscriptions WHERE id = $1`, id))
	if err != nil {
		return nil, s.wrap("get webhook "+id, err)
	}
	return &w, nil
}

// ListWebhooks lists the API subscriptions by id.
func (s *Store) ListWebhooks(ctx context.Context) ([]store.WebhookSubscription, error) {
	rows, err := s.c.Query(ctx, `SELECT `+webhookSubCols+` FROM webhook_subscriptions ORDER BY id`)
	if err != nil {
		return nil, s.wrap("list webhooks", err)
	}
	defer rows.Close()
	var out []store.WebhookSubscription
	for rows.Next() {
		w, err := scanWebhookSub(rows)
		if err != nil {
			return nil, s.wrap("list webhooks", err)
		}
		out = append(out, w)
	}
	return out, s.wrap("list webhooks", rows.Err())
}

// UpdateWebhook replaces URL, Events and, when given, Secret.
func (s *Store) UpdateWebhook(ctx context.Context, w *store.WebhookSubscription) error {
	if err := checkWebhookSub(w); err != nil {
		return s.wrap("update webhook", err)
	}
	now := s.clock()
	var got store.WebhookSubscription
	err := s.c.Tx(ctx, func(q Querier) (err error) {
		got, err = scanWebhookSub(q.QueryRow(ctx, `UPDATE webhook_subscriptions SET url = $1, events = $2,
			secret = CASE WHEN $3 = '' THEN secret ELSE $3 END, updated_at = $4 WHERE id = $5 RETURNING `+webhookSubCols,
			w.URL, eventsJSON(w.Events), w.Secret, s.d.Time(now), w.ID))
		return err
	})
	if err != nil {
		return s.wrap("update webhook "+w.ID, err)
	}
	*w = got
	return nil
}

// DeleteWebhook removes the subscription and its pending deliveries.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	err := s.c.Tx(ctx, func(q Querier) error {
		var got string
		if err := q.QueryRow(ctx, `DELETE FROM webhook_subscriptions WHERE id = $1 RETURNING id`, id).Scan(&got); err != nil {
			return err
		}
		return q.Exec(ctx, `DELETE FROM webhook_deliveries WHERE subscription = $1 AND state = 'pending'`, id)
	})
	return s.wrap("delete webhook "+id, err)
}

const deliveryCols = `id, subscription, event_id, event_type, body, state, attempts, created_at, first_at, next_at, last_status, last_error, done_at`

func scanDelivery(r interface{ Scan(...any) error }) (store.WebhookDelivery, error) {
	var d store.WebhookDelivery
	var body []byte
	var state string
	err := r.Scan(&d.ID, &d.Subscription, &d.EventID, &d.EventType, jsonDest{&body}, &state, &d.Attempts,
		ts(&d.CreatedAt), ts(&d.FirstAt), ts(&d.NextAt), &d.LastStatus, &d.LastError, tsNull(&d.DoneAt))
	d.Body, d.State = body, store.WebhookState(state)
	return d, err
}

func queryDeliveries(ctx context.Context, q Querier, sql string, args ...any) ([]store.WebhookDelivery, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.WebhookDelivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// EnqueueWebhooks adds deliveries in order, skipping ones stored already.
func (s *Store) EnqueueWebhooks(ctx context.Context, ds []store.WebhookDelivery) error {
	if len(ds) == 0 {
		return nil
	}
	if err := checkDeliveries(ds); err != nil {
		return s.wrap("enqueue webhooks", err)
	}
	err := s.c.Tx(ctx, func(q Querier) error { return s.insertDeliveries(ctx, q, ds) })
	return s.wrap("enqueue webhooks", err)
}

func checkDeliveries(ds []store.WebhookDelivery) error {
	for i, d := range ds {
		if d.Subscription == "" || d.EventID == "" || d.EventType == "" || !json.Valid(d.Body) {
			return fieldErr(fmt.Sprintf("deliveries[%d]", i), "needs a subscription, an event id and type, and a JSON body")
		}
	}
	return nil
}

func (s *Store) insertDeliveries(ctx context.Context, q Querier, ds []store.WebhookDelivery) error {
	for _, d := range ds {
		at := micro(d.CreatedAt)
		if at.IsZero() {
			at = s.clock()
		}
		next := micro(d.NextAt)
		if next.IsZero() {
			next = at
		}
		if err := q.Exec(ctx, `INSERT INTO webhook_deliveries (subscription, event_id, event_type, body, created_at, first_at, next_at, claimed_until)
			VALUES ($1, $2, $3, $4, $5, $5, $6, $7) ON CONFLICT (subscription, event_id) DO NOTHING`,
			d.Subscription, d.EventID, d.EventType, string(d.Body), s.d.Time(at), s.d.Time(next), s.d.Time(time.UnixMicro(0))); err != nil {
			return err
		}
	}
	return nil
}

// emit writes the webhook deliveries of a write's changes in its
// transaction q, after its rows (store.Outbox); it returns how many, for
// committed. The API's subscriptions are read in q: one a peer created or
// deleted a moment ago counts as the database has it.
func (s *Store) emit(ctx context.Context, q Querier, cs ...store.Change) (int, error) {
	if s.outbox == nil || len(cs) == 0 {
		return 0, nil
	}
	rows, err := q.Query(ctx, `SELECT id, events FROM webhook_subscriptions ORDER BY id`)
	if err != nil {
		return 0, fmt.Errorf("webhook outbox: subscriptions: %w", err)
	}
	var subs []store.WebhookSubscription
	for rows.Next() {
		var w store.WebhookSubscription
		var ev []byte
		if err := rows.Scan(&w.ID, jsonDest{&ev}); err != nil {
			rows.Close()
			return 0, fmt.Errorf("webhook outbox: subscriptions: %w", err)
		}
		if len(ev) > 0 {
			if err := json.Unmarshal(ev, &w.Events); err != nil {
				rows.Close()
				return 0, fmt.Errorf("webhook outbox: subscription %s: events: %w", w.ID, err)
			}
		}
		subs = append(subs, w)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("webhook outbox: subscriptions: %w", err)
	}
	n := 0
	for _, c := range cs {
		ds, err := s.outbox.Emit(c, subs)
		if err != nil {
			return 0, fmt.Errorf("webhook outbox: %s: %w", c.Kind, err)
		}
		if err := checkDeliveries(ds); err != nil {
			return 0, fmt.Errorf("webhook outbox: %s: %w", c.Kind, err)
		}
		if err := s.insertDeliveries(ctx, q, ds); err != nil {
			return 0, err
		}
		n += len(ds)
	}
	return n, nil
}

// committed tells the Outbox that a transaction that emitted n rows
// committed.
func (s *Store) committed(n int, err error) {
	if err == nil && n > 0 && s.outbox != nil {
		s.outbox.Committed(n)
	}
}

// heads is the oldest pending delivery of each subscription.
const heads = `SELECT MIN(id) FROM webhook_deliveries WHERE state = 'pending' GROUP BY subscription`

// ClaimWebhooks claims, per subscription, the longest run of at most
// Limit pending deliveries from its head that are all due and unclaimed
// (blocked counts the rows up to each one that are not): ordered, and
// nothing behind a head that waits. Claims of several processes are
// serialised (Dialect.ClaimLock), so a line has one claimant at a time
// cluster-wide: the line's order holds across nodes.
func (s *Store) ClaimWebhooks(ctx context.Context, c store.WebhookClaim) ([]store.WebhookDelivery, error) {
	if c.By == "" || c.Lease <= 0 {
		return nil, s.wrap("claim webhooks", fieldErr("by", "a claim needs a name and a lease"))
	}
	limit := max(c.Limit, 1)
	at := micro(c.At)
	var out []store.WebhookDelivery
	err := s.c.Tx(ctx, func(q Querier) (err error) {
		if s.d.ClaimLock != "" {
			if err := q.Exec(ctx, s.d.ClaimLock); err != nil {
				return fmt.Errorf("claim lock: %w", err)
			}
		}
		out, err = queryDeliveries(ctx, q, `WITH line AS (
				SELECT id, ROW_NUMBER() OVER w AS rn,
					SUM(CASE WHEN next_at > $3 OR claimed_until > $3 THEN 1 ELSE 0 END) OVER w AS blocked
				FROM webhook_deliveries WHERE state = 'pending'
				WINDOW w AS (PARTITION BY subscription ORDER BY id))
			UPDATE webhook_deliveries SET claimed_by = $1, claimed_until = $2, attempts = attempts + 1
			WHERE id IN (SELECT id FROM line WHERE rn <= $4 AND blocked = 0) AND state = 'pending'
			RETURNING `+deliveryCols, c.By, s.d.Time(at.Add(c.Lease)), s.d.Time(at), limit)
		return err
	})
	slices.SortFunc(out, func(a, b store.WebhookDelivery) int { return cmp.Compare(a.ID, b.ID) })
	return out, s.wrap("claim webhooks", err)
}

// ReleaseWebhooks gives back claims that were not tried.
func (s *Store) ReleaseWebhooks(ctx context.Context, by string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.c.Tx(ctx, func(q Querier) error {
		for _, id := range ids {
			if err := q.Exec(ctx, `UPDATE webhook_deliveries SET claimed_by = '', claimed_until = $1, attempts = attempts - 1
				WHERE id = $2 AND claimed_by = $3 AND state = 'pending'`, s.d.Time(time.UnixMicro(0)), id, by); err != nil {
				return err
			}
		}
		return nil
	})
	return s.wrap("release webhook deliveries", err)
}

// FinishWebhook records an attempt's outcome and releases the claim.
func (s *Store) FinishWebhook(ctx context.Context, r store.WebhookResult) error {
	if err := oneOf("state", r.State, store.WebhookPending, store.WebhookDelivered, store.WebhookDead); err != nil {
		return s.wrap("finish webhook", err)
	}
	err := s.c.Tx(ctx, func(q Querier) error { return s.finishWebhook(ctx, q, r) })
	if isNoRows(err) {
		return fmt.Errorf("finish webhook delivery %d: not claimed by %s: %w", r.ID, r.By, store.ErrVersion)
	}
	return s.wrap(fmt.Sprintf("finish webhook delivery %d", r.ID), err)
}

// FinishWebhooks records several outcomes in one transaction.
func (s *Store) FinishWebhooks(ctx context.Context, rs []store.WebhookResult) error {
	for _, r := range rs {
		if err := oneOf("state", r.State, store.WebhookPending, store.WebhookDelivered, store.WebhookDead); err != nil {
			return s.wrap("finish webhooks", err)
		}
	}
	err := s.c.Tx(ctx, func(q Querier) error {
		for _, r := range rs {
			if err := s.finishWebhook(ctx, q, r); err != nil && !isNoRows(err) {
				return err
			}
		}
		return nil
	})
	return s.wrap("finish webhooks", err)
}

func (s *Store) finishWebhook(ctx context.Context, q Querier, r store.WebhookResult) error {
	at := micro(r.At)
	var done any
	next := micro(r.NextAt)
	if r.State != store.WebhookPending {
		done, next = s.d.Time(at), at
	}
	var n int64
	return q.QueryRow(ctx, `UPDATE webhook_deliveries SET state = $1, next_at = $2, last_status = $3, last_error = $4,
		done_at = $5, claimed_by = '', claimed_until = $6 WHERE id = $7 AND claimed_by = $8 AND state = 'pending' RETURNING id`,
		string(r.State), s.d.Time(next), r.Status, truncate(r.Error, 1000), done, s.d.Time(time.UnixMicro(0)), r.ID, r.By).Scan(&n)
}

// NextWebhookDue is the earliest NextAt among the pending heads.
func (s *Store) NextWebhookDue(ctx context.Context) (time.Time, bool, error) {
	var at *time.Time
	err := s.c.QueryRow(ctx, `SELECT MIN(CASE WHEN claimed_until > next_at THEN claimed_until ELSE next_at END)
		FROM webhook_deliveries WHERE id IN (`+heads+`)`).Scan(tsNull(&at))
	if err != nil {
		return time.Time{}, false, s.wrap("next webhook due", err)
	}
	if at == nil {
		return time.Time{}, false, nil
	}
	return *at, true, nil
}

// ListWebhookDeliveries lists newest first.
func (s *Store) ListWebhookDeliveries(ctx context.Context, f store.WebhookFilter, p store.Page) ([]store.WebhookDelivery, string, error) {
	const op = "list webhook deliveries"
	limit, err := pageLimit(p)
	if err != nil {
		return nil, "", s.wrap(op, err)
	}
	cur, hasCur, err := decodeCursor(p.Cursor, "w")
	if err != nil {
		return nil, "", s.wrap(op, err)
	}
	var q listQuery
	if f.Subscription != "" {
		q.and(`subscription = ` + q.arg(f.Subscription))
	}
	if f.State != "" {
		if err := oneOf("state", f.State, store.WebhookPending, store.WebhookDelivered, store.WebhookDead); err != nil {
			return nil, "", s.wrap(op, err)
		}
		q.and(`state = ` + q.arg(string(f.State)))
	}
	if hasCur {
		q.and(`id < ` + q.arg(cur.id))
	}
	ds, err := queryDeliveries(ctx, s.c, q.sql(`SELECT `+deliveryCols+` FROM webhook_deliveries`, `id DESC`, limit), q.args...)
	if err != nil {
		return nil, "", s.wrap(op, err)
	}
	ds, next := nextPage(ds, limit, func(d store.WebhookDelivery) cursor { return cursor{kind: "w", id: d.ID} })
	return ds, next, nil
}

// GetWebhookDelivery reads one delivery.
func (s *Store) GetWebhookDelivery(ctx context.Context, id int64) (*store.WebhookDelivery, error) {
	d, err := scanDelivery(s.c.QueryRow(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries WHERE id = $1`, id))
	if err != nil {
		return nil, s.wrap(fmt.Sprintf("get webhook delivery %d", id), err)
	}
	return &d, nil
}

// ReplayWebhook puts a finished delivery back in its line.
func (s *Store) ReplayWebhook(ctx context.Context, id int64, at time.Time) (store.WebhookDelivery, error) {
	var d store.WebhookDelivery
	err := s.c.Tx(ctx, func(q Querier) (err error) {
		d, err = scanDelivery(q.QueryRow(ctx, `UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_at = $1, first_at = $1,
			done_at = NULL, claimed_by = '', claimed_until = $2, last_error = '' WHERE id = $3 AND state <> 'pending' RETURNING `+deliveryCols,
			s.d.Time(micro(at)), s.d.Time(time.UnixMicro(0)), id))
		if isNoRows(err) {
			// Pending already is a replay done: return it as it is.
			d, err = scanDelivery(q.QueryRow(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries WHERE id = $1`, id))
		}
		return err
	})
	return d, s.wrap(fmt.Sprintf("replay webhook delivery %d", id), err)
}

// PruneWebhooks deletes finished deliveries older than before.
func (s *Store) PruneWebhooks(ctx context.Context, before time.Time) (int, error) {
	var n int
	err := s.c.Tx(ctx, func(q Querier) error {
		rows, err := q.Query(ctx, `DELETE FROM webhook_deliveries WHERE state <> 'pending' AND done_at < $1 RETURNING id`, s.d.Time(micro(before)))
		if err != nil {
			return err
		}
		defer rows.Close()
		n = 0
		for rows.Next() {
			n++
		}
		return rows.Err()
	})
	return n, s.wrap("prune webhook deliveries", err)
}

func isNoRows(err error) bool { return errors.Is(err, ErrNoRows) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
