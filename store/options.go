package store

import "log/slog"

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
}

// ConflictError names the field whose value belongs to another row (a phone
// or email of another customer). It wraps ErrConflict.
type ConflictError struct {
	Field   string
	Message string
}

func (e *ConflictError) Error() string { return e.Field + ": " + e.Message }
func (e *ConflictError) Unwrap() error { return ErrConflict }
