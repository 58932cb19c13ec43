package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// Prepared statements are kept per query text, because preparing
// (sqlite3_prepare: parse, plan, code generation) cost more than running
// most of the store's statements: ~5 % of the server's CPU at 1,000 held
// calls (docs/benchmarks.md). database/sql prepares a kept *sql.Stmt again
// on each pooled connection it runs on, once, and Tx.StmtContext reuses the
// writer connection's copy inside a transaction.
const (
	// maxStmts bounds the statements kept per pool: the store's query
	// texts are constants, a few dozen; past the bound a text runs
	// unprepared as before.
	maxStmts = 256
	// maxStmtLen keeps LogCalls's multi-row inserts (one text per batch
	// size, thousands of parameters) out: they are prepared per batch
	// anyway and would fill the cache with texts run once.
	maxStmtLen = 4 << 10
)

// stmts is one pool's kept statements.
type stmts struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt // by the caller's text (before positional)
	// wanted are texts first met inside a transaction: preparing on the
	// pool then would wait for the writer's only connection, which the
	// transaction holds, so they are prepared before the next one begins.
	wanted []string
	closed bool
}

func newStmts(db *sql.DB) *stmts { return &stmts{db: db, m: map[string]*sql.Stmt{}} }

// get is q's kept statement, preparing it on the pool at the first use
// (nil when q is not kept: too long, the cache full, or the prepare
// failed, in which case running q unprepared reports the error as before).
func (s *stmts) get(ctx context.Context, q string) *sql.Stmt {
	s.mu.Lock()
	st, ok := s.m[q]
	full := s.closed || len(s.m) >= maxStmts
	s.mu.Unlock()
	if ok || full || len(q) > maxStmtLen {
		return st
	}
	st, err := s.db.PrepareContext(ctx, positional(q))
	if err != nil {
		return nil
	}
	return s.keep(q, st)
}

// keep stores st for q unless another caller kept one first (or the cache
// closed), and returns the statement to use.
func (s *stmts) keep(q string, st *sql.Stmt) *sql.Stmt {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[q]; ok || s.closed || len(s.m) >= maxStmts {
		_ = st.Close()
		return old
	}
	s.m[q] = st
	return st
}

// lookup is q's kept statement inside a transaction: never prepared there
// (see wanted); a miss is noted for prepareWanted.
func (s *stmts) lookup(q string) *sql.Stmt {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.m[q]
	if !ok && !s.closed && len(q) <= maxStmtLen && len(s.m)+len(s.wanted) < maxStmts {
		s.wanted = append(s.wanted, q)
	}
	return st
}

// prepareWanted prepares the texts transactions missed, before the next
// transaction takes the writer's connection.
func (s *stmts) prepareWanted(ctx context.Context) {
	s.mu.Lock()
	w := s.wanted
	s.wanted = nil
	s.mu.Unlock()
	for _, q := range w {
		s.get(ctx, q)
	}
}

// close closes the kept statements; later gets return nil.
func (s *stmts) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	var errs []error
	for q, st := range s.m {
		errs = append(errs, st.Close())
		delete(s.m, q)
	}
	return errors.Join(errs...)
}
