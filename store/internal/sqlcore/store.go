package sqlcore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// Store implements store.Store over a Conn.
type Store struct {
	c       Conn
	d       Dialect
	country string
	log     *slog.Logger
	now     store.Clock
	outbox  store.Outbox // nil: the writes make no webhook deliveries
}

var _ store.Store = (*Store)(nil)

// New wraps an opened, migrated connection.
func New(c Conn, d Dialect, o store.Options) *Store {
	s := &Store{c: c, d: d, country: o.DefaultCountry, log: o.Logger, now: o.Clock, outbox: o.Outbox}
	if s.country == "" {
		s.country = "VN"
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Conn exposes the connection (benchmarks seed through it).
func (s *Store) Conn() Conn { return s.c }

// Dialect exposes how the backend binds values (benchmarks seed with it).
func (s *Store) Dialect() Dialect { return s.d }

func (s *Store) clock() time.Time { return micro(s.now()) }

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.wrap("store "+s.d.Name+": ping", s.c.Ping(ctx))
}

// Close releases the connections.
func (s *Store) Close() error { return s.c.Close() }

// wrap names the operation and maps driver errors to the store sentinels.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var fe *store.FieldError
	var ce *store.ConflictError
	switch {
	case errors.As(err, &fe), errors.As(err, &ce), errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%s: %w", op, err)
	case errors.Is(err, ErrNoRows):
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	case s.d.Unique(err):
		return fmt.Errorf("%s: %w: %v", op, store.ErrConflict, err)
	case s.d.ForeignKey(err):
		return fmt.Errorf("%s: %w: %v", op, store.ErrInvalid, err)
	case !errors.Is(err, store.ErrUnavailable) && s.d.Unavailable != nil && s.d.Unavailable(err):
		return fmt.Errorf("%s: %w: %w", op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}
