package store

import (
	"log/slog"
	"time"
)

// Options configure a backend. The zero value works: default country VN, a
// discarding logger, the wall clock, migrations applied at open.
type Options struct {
	// DefaultCountry (ISO 3166 alpha-2) reads national phone numbers, for
	// customers' phones and for LogCall's caller number. Default "VN".
	DefaultCountry string
	Logger         *slog.Logger
	Clock          Clock
	// NoMigrate skips applying pending migrations at open (hotline migrate
	// status uses it). A store opened on an old schema may then fail.
	NoMigrate bool
	// Timeout bounds each wait on the database server that the client
	// cannot bound itself: PostgreSQL's connect timeout and
	// statement_timeout (unless the URL sets connect_timeout or
	// statement_timeout), SQLite's busy timeout. 0: no statement timeout
	// and no connect timeout beyond the context on PostgreSQL, 10 s busy
	// timeout on SQLite. Callers bound the whole operation with ctx.
	Timeout time.Duration
	// Outbox, when set, makes webhook deliveries of ticket, interaction
	// and call writes, stored in the same transaction as the write.
	Outbox Outbox
}

// ConflictError names the field whose value belongs to another row (a phone
// or email of another customer). It wraps ErrConflict.
type ConflictError struct {
	Field   string
	Message string
}

func (e *ConflictError) Error() string { return e.Field + ": " + e.Message }
func (e *ConflictError) Unwrap() error { return ErrConflict }
