package sqlcore

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/hotline-dev/hotline/store"
)

var _ store.Idempotency = (*Store)(nil)

// ClaimIdempotencyKey: one transaction drops what expired (every key past
// the TTL, and this key's claim if it is stale), then inserts the claim;
// the primary key makes two concurrent claims of one key end with one
// winner, the other reading the winner's row.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, scope, key, hash string, stale time.Duration) (store.IdempotentResult, bool, error) {
	now := s.clock()
	var got store.IdempotentResult
	claimed := false
	err := s.c.Tx(ctx, func(q Querier) error {
		claimed = false
		if err := q.Exec(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, s.d.Time(now.Add(-store.IdempotencyTTL))); err != nil {
			return err
		}
		if err := q.Exec(ctx, `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status = 0 AND created_at < $3`,
			scope, key, s.d.Time(now.Add(-stale))); err != nil {
			return err
		}
		var one string
		err := q.QueryRow(ctx, `INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (scope, key) DO NOTHING RETURNING scope`, scope, key, hash, s.d.Time(now)).Scan(&one)
		if err == nil {
			claimed = true
			got = store.IdempotentResult{Scope: scope, Key: key, RequestHash: hash, CreatedAt: now}
			return nil
		}
		if !errors.Is(err, ErrNoRows) {
			return err
		}
		var headers string
		got = store.IdempotentResult{Scope: scope, Key: key}
		if err := q.QueryRow(ctx, `SELECT request_hash, status, headers, body, created_at FROM idempotency_keys WHERE scope = $1 AND key = $2`,
			scope, key).Scan(&got.RequestHash, &got.Status, &headers, &got.Body, ts(&got.CreatedAt)); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(headers), &got.Headers); err != nil {
			return errors.Join(errors.New("idempotency_keys.headers"), err)
		}
		return nil
	})
	return got, claimed, s.wrap("claim idempotency key", err)
}

// SaveIdempotencyKey stores the answer of a claimed key.
func (s *Store) SaveIdempotencyKey(ctx context.Context, r store.IdempotentResult) error {
	h, err := json.Marshal(r.Headers)
	if err != nil {
		return s.wrap("save idempotency key", err)
	}
	body := r.Body
	if body == nil {
		body = []byte{}
	}
	err = s.c.Tx(ctx, func(q Querier) error {
		return q.Exec(ctx, `UPDATE idempotency_keys SET status = $1, headers = $2, body = $3 WHERE scope = $4 AND key = $5`,
			r.Status, string(h), body, r.Scope, r.Key)
	})
	return s.wrap("save idempotency key", err)
}

// ReleaseIdempotencyKey drops a claim that got no answer.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, scope, key string) error {
	err := s.c.Tx(ctx, func(q Querier) error {
		return q.Exec(ctx, `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status = 0`, scope, key)
	})
	return s.wrap("release idempotency key", err)
}
