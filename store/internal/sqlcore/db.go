// Package sqlcore is the SQL shared by the SQLite and PostgreSQL backends.
// Both speak the same statements ($N placeholders, RETURNING, row values,
// ON CONFLICT); the differences (timestamp binding, error codes, write
// serialisation) sit behind Conn and Dialect.
package sqlcore

import (
	"context"
	"errors"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// ErrNoRows is what adapters return from Row.Scan when nothing matched.
var ErrNoRows = errors.New("sqlcore: no rows")

// Querier runs statements; a pool or a transaction.
type Querier interface {
	Exec(ctx context.Context, q string, args ...any) error
	Query(ctx context.Context, q string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, q string, args ...any) Row
}

// Rows is a result set.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is one result row; Scan returns ErrNoRows when there was none.
type Row interface {
	Scan(dest ...any) error
}

// Conn is a backend's connection: reads go to Querier, writes through Tx.
type Conn interface {
	Querier
	// Tx runs fn in one write transaction, committed when fn returns nil
	// and rolled back otherwise.
	Tx(ctx context.Context, fn func(Querier) error) error
	Ping(ctx context.Context) error
	Close() error
}

// Dialect is what differs between backends outside the connection.
type Dialect struct {
	Name string
	// Time turns a timestamp into a bind argument.
	Time func(time.Time) any
	// Unique reports whether err is a uniqueness violation.
	Unique func(err error) bool
	// ForeignKey reports whether err is a foreign-key violation.
	ForeignKey func(err error) bool
	// Transient reports errors worth retrying the transaction for
	// (deadlock, serialization failure); nil for none.
	Transient func(err error) bool
	// Unavailable reports errors that mean the database did not answer
	// (connection refused or lost, server shutting down, timeouts); they
	// are wrapped with store.ErrUnavailable.
	Unavailable func(err error) bool
	// BatchArgs go before the arguments of the variable-length statements
	// LogCalls builds (PostgreSQL: a pgx query mode that does not cache
	// them as prepared statements).
	BatchArgs []any
	// SyncHorizon is a query of one integer: the change_tx below which
	// every writing transaction has finished (PostgreSQL: the xmin of a
	// snapshot). "" when writers commit in change_tx order (SQLite).
	SyncHorizon string
	// Stamp is a query of one integer: a fresh change_tx for the rows one
	// batch statement writes (SQLite: the counter, bumped). "" when a
	// trigger sets it (PostgreSQL).
	Stamp string
	// ClaimLock is a statement ClaimWebhooks runs first in its
	// transaction, serialising the claims of every process sharing the
	// database (PostgreSQL: a transaction advisory lock). Without it two
	// claims of read-committed transactions both see a line unclaimed
	// and both take it. "" when write transactions are serialised anyway
	// (SQLite).
	ClaimLock string
	// BoundsLock is a statement that serialises the callback request
	// bounds' checks until the transaction ends (PostgreSQL: an advisory
	// lock). "" when writing transactions are serial anyway (SQLite).
	BoundsLock string
	// MoreQueueRecs appends to out the queue records at or after since
	// that the dialect keeps elsewhere, pruning older ones, in QueueRecs'
	// transaction (PostgreSQL: a cluster leader's, in acd_recs, so a
	// single node that follows a cluster keeps the window's figures).
	// nil for none.
	MoreQueueRecs func(ctx context.Context, q Querier, since time.Time, out []store.QueueRec) ([]store.QueueRec, error)
}
