package app

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/hotline-dev/hotline/calllog"
	"github.com/hotline-dev/hotline/store"
)

// errStoreDown is what the API reports (503) while the database is unreachable.
var errStoreDown = fmt.Errorf("ticket history database unavailable: %w", store.ErrUnavailable)

// lazyStore is the store.Store the API and the call logger share. It opens
// the database on first use and again after an open fails (calllog.Reopener:
// one attempt at a time, in the background, each caller waiting no longer
// than its context), so Hotline starts and answers calls (spooling their
// records) during a database outage; the API then answers 503 until the
// database is back. The callers' contexts bound every operation (the API's
// request deadline, the call logger's write timeout).
type lazyStore struct {
	r *calllog.Reopener
	// flush, before a batch of call records is written, waits (bounded)
	// until the webhook events published before it (call.started,
	// call.answered) are in the outbox, so a subscription gets them before
	// the call.ended the batch's transaction writes. nil: none. Set once,
	// before anything is served.
	flush func(ctx context.Context)
}

var _ store.Store = (*lazyStore)(nil)

func newLazyStore(open func(ctx context.Context) (store.Store, error)) *lazyStore {
	return &lazyStore{r: calllog.NewReopener(open)}
}

// get returns the open store, waiting for an open attempt no longer than ctx.
func (l *lazyStore) get(ctx context.Context) (store.Store, error) {
	s, err := l.r.Store(ctx)
	if err != nil {
		// Not %w on err: an unparseable URL is a FieldError, and callers
		// must treat any failure to open as an outage, not invalid input.
		return nil, fmt.Errorf("%w: %v", errStoreDown, err)
	}
	return s, nil
}

func (l *lazyStore) Close() error { return l.r.Close() }

func (l *lazyStore) Ping(ctx context.Context) error {
	s, err := l.get(ctx)
	if err != nil {
		return err
	}
	return s.Ping(ctx)
}

// with runs f on the open store, or fails with errStoreDown.
func with[T any](ctx context.Context, l *lazyStore, f func(store.Store) (T, error)) (T, error) {
	s, err := l.get(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	return f(s)
}

type page[T any] struct {
	items []T
	next  string
}

func withPage[T any](ctx context.Context, l *lazyStore, f func(store.Store) ([]T, string, error)) ([]T, string, error) {
	p, err := with(ctx, l, func(s store.Store) (page[T], error) {
		items, next, err := f(s)
		return page[T]{items, next}, err
	})
	return p.items, p.next, err
}

func (l *lazyStore) do(ctx context.Context, f func(store.Store) error) error {
	_, err := with(ctx, l, func(s store.Store) (struct{}, error) { return struct{}{}, f(s) })
	return err
}

func (l *lazyStore) CreateCustomer(ctx context.Context, c *store.Customer) error {
	return l.do(ctx, func(s store.Store) error { return s.CreateCustomer(ctx, c) })
}

func (l *lazyStore) GetCustomer(ctx context.Context, id int64) (*store.Customer, error) {
	return with(ctx, l, func(s store.Store) (*store.Customer, error) { return s.GetCustomer(ctx, id) })
}

func (l *lazyStore) UpdateCustomer(ctx context.Context, c *store.Customer) error {
	return l.do(ctx, func(s store.Store) error { return s.UpdateCustomer(ctx, c) })
}

func (l *lazyStore) ListCustomers(ctx context.Context, f store.CustomerFilter, p store.Page) ([]store.Customer, string, error) {
	return withPage(ctx, l, func(s store.Store) ([]store.Customer, string, error) { return s.ListCustomers(ctx, f, p) })
}

func (l *lazyStore) FindCustomerByPhone(ctx context.Context, e164 string) (*store.Customer, error) {
	return with(ctx, l, func(s store.Store) (*store.Customer, error) { return s.FindCustomerByPhone(ctx, e164) })
}

func (l *lazyStore) FindCustomerByEmail(ctx context.Context, email string) (*store.Customer, error) {
	return with(ctx, l, func(s store.Store) (*store.Customer, error) { return s.FindCustomerByEmail(ctx, email) })
}

func (l *lazyStore) CreateTicket(ctx context.Context, t *store.Ticket) error {
	return l.do(ctx, func(s store.Store) error { return s.CreateTicket(ctx, t) })
}

func (l *lazyStore) GetTicket(ctx context.Context, id int64) (*store.Ticket, error) {
	return with(ctx, l, func(s store.Store) (*store.Ticket, error) { return s.GetTicket(ctx, id) })
}

func (l *lazyStore) UpdateTicket(ctx context.Context, t *store.Ticket) error {
	return l.do(ctx, func(s store.Store) error { return s.UpdateTicket(ctx, t) })
}

func (l *lazyStore) ListTickets(ctx context.Context, f store.TicketFilter, p store.Page) ([]store.Ticket, string, error) {
	return withPage(ctx, l, func(s store.Store) ([]store.Ticket, string, error) { return s.ListTickets(ctx, f, p) })
}

func (l *lazyStore) CreateInteraction(ctx context.Context, i *store.Interaction) error {
	return l.do(ctx, func(s store.Store) error { return s.CreateInteraction(ctx, i) })
}

func (l *lazyStore) GetInteraction(ctx context.Context, id int64) (*store.Interaction, error) {
	return with(ctx, l, func(s store.Store) (*store.Interaction, error) { return s.GetInteraction(ctx, id) })
}

func (l *lazyStore) ListInteractions(ctx context.Context, f store.InteractionFilter, p store.Page) ([]store.Interaction, string, error) {
	return withPage(ctx, l, func(s store.Store) ([]store.Interaction, string, error) { return s.ListInteractions(ctx, f, p) })
}

func (l *lazyStore) Timeline(ctx context.Context, customerID int64, p store.Page) ([]store.Interaction, string, error) {
	return withPage(ctx, l, func(s store.Store) ([]store.Interaction, string, error) { return s.Timeline(ctx, customerID, p) })
}

func (l *lazyStore) LogCall(ctx context.Context, r store.CallRecord) (store.LogResult, error) {
	l.flushEvents(ctx)
	return with(ctx, l, func(s store.Store) (store.LogResult, error) { return s.LogCall(ctx, r) })
}

func (l *lazyStore) LogCalls(ctx context.Context, rs []store.CallRecord) ([]store.LogResult, error) {
	l.flushEvents(ctx)
	return with(ctx, l, func(s store.Store) ([]store.LogResult, error) { return s.LogCalls(ctx, rs) })
}

func (l *lazyStore) flushEvents(ctx context.Context) {
	if l.flush != nil {
		l.flush(ctx)
	}
}

// withPartT runs f on part P of the open store (store.Runtime,
// store.Callbacks: interfaces both stores implement beside store.Store),
// or fails with errStoreDown.
func withPartT[P, T any](ctx context.Context, l *lazyStore, f func(P) (T, error)) (T, error) {
	return with(ctx, l, func(s store.Store) (T, error) {
		p, ok := s.(P)
		if !ok {
			var zero T
			return zero, fmt.Errorf("store %T has no %T", s, (*P)(nil))
		}
		return f(p)
	})
}

// withPart is withPartT for what returns only an error.
func withPart[P any](ctx context.Context, l *lazyStore, f func(P) error) error {
	_, err := withPartT(ctx, l, func(p P) (struct{}, error) { return struct{}{}, f(p) })
	return err
}

// The API's Idempotency-Key table, on the open store.
var _ store.Idempotency = (*lazyStore)(nil)

func (l *lazyStore) ClaimIdempotencyKey(ctx context.Context, scope, key, hash string, stale time.Duration) (store.IdempotentResult, bool, error) {
	type claim struct {
		got     store.IdempotentResult
		claimed bool
	}
	c, err := withPartT(ctx, l, func(s store.Idempotency) (claim, error) {
		got, ok, err := s.ClaimIdempotencyKey(ctx, scope, key, hash, stale)
		return claim{got, ok}, err
	})
	return c.got, c.claimed, err
}

func (l *lazyStore) SaveIdempotencyKey(ctx context.Context, r store.IdempotentResult) error {
	return withPart(ctx, l, func(s store.Idempotency) error { return s.SaveIdempotencyKey(ctx, r) })
}

func (l *lazyStore) ReleaseIdempotencyKey(ctx context.Context, scope, key string) error {
	return withPart(ctx, l, func(s store.Idempotency) error { return s.ReleaseIdempotencyKey(ctx, scope, key) })
}

// The recordings table (voicemail metadata), on the open store.
var _ store.Recordings = (*lazyStore)(nil)

func (l *lazyStore) CreateRecording(ctx context.Context, r *store.Recording) error {
	return withPart(ctx, l, func(s store.Recordings) error { return s.CreateRecording(ctx, r) })
}

func (l *lazyStore) GetRecording(ctx context.Context, id string) (*store.Recording, error) {
	return withPartT(ctx, l, func(s store.Recordings) (*store.Recording, error) { return s.GetRecording(ctx, id) })
}

func (l *lazyStore) DeleteRecording(ctx context.Context, id string, at time.Time) error {
	return withPart(ctx, l, func(s store.Recordings) error { return s.DeleteRecording(ctx, id, at) })
}

func (l *lazyStore) ExpiredRecordings(ctx context.Context, kind, queue string, before time.Time, limit int) ([]store.Recording, error) {
	return withPartT(ctx, l, func(s store.Recordings) ([]store.Recording, error) {
		return s.ExpiredRecordings(ctx, kind, queue, before, limit)
	})
}

// The recordings' audio in the database (recordings.store: database), on
// the open store.
var _ store.RecordingAudio = (*lazyStore)(nil)

func (l *lazyStore) PutAudio(ctx context.Context, key string, r io.Reader) (store.AudioInfo, error) {
	return withPartT(ctx, l, func(s store.RecordingAudio) (store.AudioInfo, error) { return s.PutAudio(ctx, key, r) })
}

func (l *lazyStore) OpenAudio(ctx context.Context, key string) (store.AudioObject, error) {
	return withPartT(ctx, l, func(s store.RecordingAudio) (store.AudioObject, error) { return s.OpenAudio(ctx, key) })
}

func (l *lazyStore) StatAudio(ctx context.Context, key string) (store.AudioInfo, error) {
	return withPartT(ctx, l, func(s store.RecordingAudio) (store.AudioInfo, error) { return s.StatAudio(ctx, key) })
}

func (l *lazyStore) DeleteAudio(ctx context.Context, key string) error {
	return withPart(ctx, l, func(s store.RecordingAudio) error { return s.DeleteAudio(ctx, key) })
}

func (l *lazyStore) DeleteAudioOrphans(ctx context.Context, age time.Duration) (int, error) {
	return withPartT(ctx, l, func(s store.RecordingAudio) (int, error) { return s.DeleteAudioOrphans(ctx, age) })
}
