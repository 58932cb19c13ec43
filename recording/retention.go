package recording

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// Index is the part of the recordings table the retention sweep uses
// (store.Recordings).
type Index interface {
	ExpiredRecordings(ctx context.Context, kind, queue string, before time.Time, limit int) ([]store.Recording, error)
	DeleteRecording(ctx context.Context, id string, at time.Time) error
}

// Clock is the sweep's time: real time, or a fake in tests.
type Clock interface {
	Now() time.Time
	// After is like time.After; stop releases it.
	After(d time.Duration) (c <-chan time.Time, stop func())
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) After(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

// DefaultSweepEvery is how often the retention sweep runs: a recording is
// deleted at most this long after its retention ran out.
const DefaultSweepEvery = time.Hour

// sweepBatch is how many recordings one query fetches.
const sweepBatch = 100

// Sweeper deletes call recordings older than their queue's retention. A
// deletion is recorded three ways: the row stays with deleted_at set (the
// ticket history's proof of when; the API then answers 404 for it and the
// interaction no longer lists it), and a log line at info names the
// recording, its call, interaction, queue, when it was made and the
// retention that applied (what an auditor asks "under which rule").
type Sweeper struct {
	Store Store
	Index Index
	// Retention is each recorded queue's retention (queues.<name>.recording).
	// A queue not in it keeps its recordings: turning recording off does
	// not delete what was recorded; its retention does.
	Retention map[string]time.Duration
	Every     time.Duration // default DefaultSweepEvery
	Clock     Clock         // nil: real time
	Logger    *slog.Logger
}

// Run sweeps at once and then every Every until ctx ends; it returns nil
// then. A failed sweep is logged and tried again at the next.
func (s *Sweeper) Run(ctx context.Context) error {
	if len(s.Retention) == 0 {
		return nil
	}
	every := s.Every
	if every <= 0 {
		every = DefaultSweepEvery
	}
	for {
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log().Error("recording: retention sweep", "err", err)
		}
		c, stop := s.clock().After(every)
		select {
		case <-ctx.Done():
			stop()
			return nil
		case <-c:
		}
	}
}

func (s *Sweeper) clock() Clock {
	if s.Clock == nil {
		return realClock{}
	}
	return s.Clock
}

func (s *Sweeper) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// Sweep deletes every expired recording once and reports how many. The
// audio goes first (a file, or the database store's rows), then the row
// is marked: a crash between the two leaves a row whose audio is gone
// (the API answers 404 for it already), and the next sweep marks it.
// Last, the database store's chunks that a write cut short by a crash
// left go too.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	deleted := 0
	var errs []error
	queues := make([]string, 0, len(s.Retention))
	for q := range s.Retention {
		queues = append(queues, q)
	}
	slices.Sort(queues)
	for _, q := range queues {
		keep := s.Retention[q]
		now := s.clock().Now()
		before := now.Add(-keep)
		for {
			batch, err := s.Index.ExpiredRecordings(ctx, store.RecordingCall, q, before, sweepBatch)
			if err != nil {
				errs = append(errs, err)
				break
			}
			progress := 0
			for _, r := range batch {
				if err := s.delete(ctx, r, keep, now); err != nil {
					errs = append(errs, err)
					continue
				}
				progress++
				deleted++
			}
			if len(batch) < sweepBatch || progress == 0 {
				break
			}
		}
	}
	if o, ok := s.Store.(orphanSweeper); ok {
		n, err := o.SweepOrphans(ctx)
		if err != nil {
			errs = append(errs, err)
		} else if n > 0 {
			s.log().Info("recording: deleted audio chunks a crashed write left", "chunks", n)
		}
	}
	return deleted, errors.Join(errs...)
}

func (s *Sweeper) delete(ctx context.Context, r store.Recording, keep time.Duration, now time.Time) error {
	log := s.log().With("recording", r.ID, "call_id", r.CallID, "interaction", r.InteractionID, "queue", r.Queue)
	err := s.Store.Delete(ctx, Key(r.ID, r.Format))
	if err != nil && !errors.Is(err, ErrNotFound) {
		log.Warn("recording: retention sweep could not delete the file; tried again next sweep", "err", err)
		return err
	}
	fileGone := err != nil
	if err := s.Index.DeleteRecording(ctx, r.ID, now); err != nil {
		log.Warn("recording: retention sweep could not mark the recording deleted; tried again next sweep", "err", err)
		return err
	}
	log.Info("recording: deleted by retention", "kind", r.Kind, "created_at", r.CreatedAt, "retention", keep,
		"deleted_at", now, "file_already_gone", fileGone)
	return nil
}
