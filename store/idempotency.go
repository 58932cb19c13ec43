package store

import (
	"context"
	"time"
)

// IdempotencyTTL is how long an Idempotency-Key is kept: a retry within it
// gets the first answer.
const IdempotencyTTL = 24 * time.Hour

// IdempotentResult is the first answer to a request sent with an
// Idempotency-Key, or the claim of the request still running (Status 0).
type IdempotentResult struct {
	Scope       string // who sent it (the token's name): keys of two clients never meet
	Key         string
	RequestHash string // of method, path and body: the same key with another request is refused
	Status      int
	Headers     map[string]string
	Body        []byte
	CreatedAt   time.Time
}

// Idempotency keeps Idempotency-Keys; both backends implement it beside
// Store (table idempotency_keys).
type Idempotency interface {
	// ClaimIdempotencyKey claims (scope, key) for a request with hash. A
	// claim is the caller's to run and then Save or Release. When the key
	// is taken, claimed is false and got is what is stored: the first
	// answer, or Status 0 while that request runs. A key older than
	// IdempotencyTTL, or a claim older than stale that never got an answer
	// (its process died), is taken over.
	ClaimIdempotencyKey(ctx context.Context, scope, key, hash string, stale time.Duration) (got IdempotentResult, claimed bool, err error)
	// SaveIdempotencyKey stores the answer of a claimed key.
	SaveIdempotencyKey(ctx context.Context, r IdempotentResult) error
	// ReleaseIdempotencyKey drops a claim whose request did not finish (a
	// 5xx): a retry runs again.
	ReleaseIdempotencyKey(ctx context.Context, scope, key string) error
}
