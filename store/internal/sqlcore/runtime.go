package sqlcore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// SaveBindings replaces each user's contacts; see store.Runtime.
func (s *Store) SaveBindings(ctx context.Context, bs []store.UserBindings) error {
	for _, b := range bs {
		for _, c := range b.Contacts {
			if err := checkText("uri", c.URI, 2000); err != nil {
				return s.wrap("save bindings of "+b.Username, err)
			}
		}
	}
	err := s.c.Tx(ctx, func(q Querier) error {
		for _, b := range bs {
			if err := q.Exec(ctx, `DELETE FROM registrations WHERE username = $1`, b.Username); err != nil {
				return err
			}
			for _, c := range b.Contacts {
				c.Expires, c.Updated = micro(c.Expires), micro(c.Updated)
				j, err := json.Marshal(c)
				if err != nil {
					return fmt.Errorf("binding %s: %w", c.URI, err)
				}
				if err := q.Exec(ctx, `INSERT INTO registrations (username, uri, expires_at, contact) VALUES ($1, $2, $3, $4)
					ON CONFLICT (username, uri) DO UPDATE SET expires_at = excluded.expires_at, contact = excluded.contact`,
					b.Username, c.URI, s.d.Time(c.Expires), string(j)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return s.wrap("save bindings", err)
}

// Bindings lists the live contacts by username and deletes expired ones.
func (s *Store) Bindings(ctx context.Context, now time.Time) ([]store.UserBindings, error) {
	var out []store.UserBindings
	err := s.c.Tx(ctx, func(q Querier) error {
		out = nil
		if err := q.Exec(ctx, `DELETE FROM registrations WHERE expires_at <= $1`, s.d.Time(micro(now))); err != nil {
			return err
		}
		rows, err := q.Query(ctx, `SELECT username, contact FROM registrations ORDER BY username, uri`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var user string
			var j []byte
			if err := rows.Scan(&user, jsonDest{&j}); err != nil {
				return err
			}
			var c store.Binding
			if err := json.Unmarshal(j, &c); err != nil {
				return fmt.Errorf("registration of %s: %w", user, err)
			}
			if n := len(out); n == 0 || out[n-1].Username != user {
				out = append(out, store.UserBindings{Username: user})
			}
			out[len(out)-1].Contacts = append(out[len(out)-1].Contacts, c)
		}
		return rows.Err()
	})
	return out, s.wrap("load bindings", err)
}

// SaveAgents upserts agents' presence and membership.
func (s *Store) SaveAgents(ctx context.Context, as []store.AgentState) error {
	err := s.c.Tx(ctx, func(q Querier) error {
		for _, a := range as {
			var queues any // NULL: as configured
			if a.Queues != nil {
				b, _ := json.Marshal(a.Queues) // a map[string]int always marshals
				queues = string(b)
			}
			var idle any // NULL: unknown
			if !a.IdleSince.IsZero() {
				idle = s.d.Time(micro(a.IdleSince))
			}
			if err := q.Exec(ctx, `INSERT INTO agent_states (agent_id, presence, reason, since, queues, idle_since) VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (agent_id) DO UPDATE SET presence = excluded.presence, reason = excluded.reason,
				since = excluded.since, queues = excluded.queues, idle_since = excluded.idle_since`,
				a.AgentID, a.Presence, a.Reason, s.d.Time(micro(a.Since)), queues, idle); err != nil {
				return err
			}
		}
		return nil
	})
	return s.wrap("save agent states", err)
}

// Agents lists every saved agent state.
func (s *Store) Agents(ctx context.Context) ([]store.AgentState, error) {
	rows, err := s.c.Query(ctx, `SELECT agent_id, presence, reason, since, queues, idle_since FROM agent_states ORDER BY agent_id`)
	if err != nil {
		return nil, s.wrap("load agent states", err)
	}
	defer rows.Close()
	var out []store.AgentState
	for rows.Next() {
		var a store.AgentState
		var queues []byte
		var idle *time.Time
		if err := rows.Scan(&a.AgentID, &a.Presence, &a.Reason, ts(&a.Since), jsonDest{&queues}, tsNull(&idle)); err != nil {
			return nil, s.wrap("load agent states", err)
		}
		if idle != nil {
			a.IdleSince = *idle
		}
		if len(queues) > 0 {
			if err := json.Unmarshal(queues, &a.Queues); err != nil {
				return nil, s.wrap("load agent states", fmt.Errorf("agent %s queues: %w", a.AgentID, err))
			}
		}
		out = append(out, a)
	}
	return out, s.wrap("load agent states", rows.Err())
}

// AppendQueueRecs adds queue records, skipping IDs already stored.
func (s *Store) AppendQueueRecs(ctx context.Context, rs []store.QueueRec) error {
	err := s.c.Tx(ctx, func(q Querier) error {
		for _, r := range rs {
			if err := q.Exec(ctx, `INSERT INTO queue_recs (id, queue, at, kind, call_id, duration_us, agent) VALUES ($1, $2, $3, $4, $5, $6, $7)
				ON CONFLICT (id) DO NOTHING`,
				r.ID, r.Queue, s.d.Time(micro(r.At)), r.Kind, r.CallID, r.Duration.Microseconds(), r.Agent); err != nil {
				return err
			}
		}
		return nil
	})
	return s.wrap("append queue records", err)
}

// QueueRecs lists the records at or after since and prunes older ones.
func (s *Store) QueueRecs(ctx context.Context, since time.Time) ([]store.QueueRec, error) {
	var out []store.QueueRec
	err := s.c.Tx(ctx, func(q Querier) error {
		out = nil
		if err := q.Exec(ctx, `DELETE FROM queue_recs WHERE at < $1`, s.d.Time(micro(since))); err != nil {
			return err
		}
		rows, err := q.Query(ctx, `SELECT id, queue, at, kind, call_id, duration_us, agent FROM queue_recs ORDER BY at, id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r store.QueueRec
			var us int64
			if err := rows.Scan(&r.ID, &r.Queue, ts(&r.At), &r.Kind, &r.CallID, &us, &r.Agent); err != nil {
				return err
			}
			r.Duration = time.Duration(us) * time.Microsecond
			out = append(out, r)
		}
		if err := rows.Err(); err != nil || s.d.MoreQueueRecs == nil {
			return err
		}
		n := len(out)
		if out, err = s.d.MoreQueueRecs(ctx, q, since, out); err != nil {
			return err
		}
		if len(out) > n {
			store.SortQueueRecs(out)
		}
		return nil
	})
	return out, s.wrap("load queue records", err)
}

var _ store.Runtime = (*Store)(nil)
