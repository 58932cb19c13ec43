package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The cluster's reads and events on every node (migration 0011,
// docs/cluster.md): the leader's view of the ACD in one row, and events
// broadcast on a notification channel (by reference to acd_events when
// too large for a payload).

// Notification channels: the view was rewritten (payload: the schema);
// an event (payload: "schema/" then the event's JSON, or
// "schema/@<id>:<node>" for one stored in acd_events).
const (
	ChanView   = "hotline_acd_view"
	ChanEvents = "hotline_events"
)

// MaxInlineEvent is the largest event body sent in the notification
// itself: PostgreSQL refuses payloads of 8000 bytes or more, and the
// payload also carries the schema (at most 63 bytes) and a slash.
const MaxInlineEvent = 8000 - 64 - 1

// eventKeep is how long a large event's row is kept for the listeners.
const eventKeep = time.Minute

// View is the leader's last view of the ACD.
type View struct {
	Version, Epoch int64
	At             time.Time // the database's clock at the write
	Body           []byte    // JSON, the cluster package's
}

// View reads the view when its version is above after; ok is false when
// it is not (nothing new, one cheap query).
func (c *Cluster) View(ctx context.Context, after int64) (v View, ok bool, err error) {
	err = c.p.QueryRow(ctx, `SELECT version, epoch, at, body FROM acd_view WHERE id = 1 AND version > $1`, after).
		Scan(&v.Version, &v.Epoch, &v.At, &v.Body)
	if errors.Is(err, pgx.ErrNoRows) {
		return View{}, false, nil
	}
	if err != nil {
		return View{}, false, fmt.Errorf("read acd view: %w", err)
	}
	return v, true, nil
}

// PublishEvents broadcasts node's events (JSON bodies, in order) to every
// node listening on ChanEvents, in one transaction: PostgreSQL delivers
// one transaction's notifications in order, and transactions in commit
// order, so each origin's order holds. A body over MaxInlineEvent is
// stored in acd_events and its notification names the row. prune also
// deletes such rows older than a minute.
func (c *Cluster) PublishEvents(ctx context.Context, node string, bodies [][]byte, prune bool) error {
	var q pgx.Batch
	for _, b := range bodies {
		if len(b) <= MaxInlineEvent {
			q.Queue(`SELECT pg_notify('`+ChanEvents+`', current_schema() || '/' || $1::text)`, string(b))
			continue
		}
		q.Queue(`WITH ins AS (INSERT INTO acd_events (node, body) VALUES ($1, $2) RETURNING id)
			SELECT pg_notify('`+ChanEvents+`', current_schema() || '/@' || id || ':' || $1) FROM ins`, node, string(b))
	}
	if prune {
		q.Queue(`DELETE FROM acd_events WHERE at < now() - make_interval(secs => $1)`, eventKeep.Seconds())
	}
	err := pgx.BeginFunc(ctx, c.p, func(tx pgx.Tx) error { return tx.SendBatch(ctx, &q).Close() })
	if err != nil {
		return fmt.Errorf("publish %d events of %s: %w", len(bodies), node, err)
	}
	return nil
}

// EventRef parses a ChanEvents payload (after the schema) that refers to
// a stored event: its row id and origin node.
func EventRef(payload string) (id int64, node string, ok bool) {
	rest, ok := strings.CutPrefix(payload, "@")
	if !ok {
		return 0, "", false
	}
	idText, node, ok := strings.Cut(rest, ":")
	if !ok {
		return 0, "", false
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	return id, node, err == nil
}

// EventBody reads a stored event's body (EventRef). ErrNoRows wrapped when
// it was pruned.
func (c *Cluster) EventBody(ctx context.Context, id int64) ([]byte, error) {
	var b []byte
	if err := c.p.QueryRow(ctx, `SELECT body FROM acd_events WHERE id = $1`, id).Scan(&b); err != nil {
		return nil, fmt.Errorf("read stored event %d: %w", id, err)
	}
	return b, nil
}
