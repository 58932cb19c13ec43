package recording

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// Fallback is the database store with a local spool for outages
// (recordings.store: database): a recording that cannot be written to the
// database (it does not answer) is written to Spool, a Dir on this node's
// disk, instead of being lost; Run moves spooled recordings into the
// database once their rows are there (the call log replays the call's
// record after the outage), then removes the files. Until then only this
// node serves them (Open and Stat look in the spool when the database
// has no such object).
type Fallback struct {
	Primary Store
	Spool   *Dir
	Index   store.Recordings // the rows Run waits for
	Every   time.Duration    // how often Run moves spooled recordings; default 30s
	Logger  *slog.Logger
}

var _ Store = (*Fallback)(nil)

// spoolTimeout bounds the spool write after the database failed (the
// caller's context may be spent waiting for the database).
const spoolTimeout = 15 * time.Second

// Put writes to the database; if that fails and r can be rewound (an
// io.Seeker), to the spool.
func (f *Fallback) Put(ctx context.Context, key string, r io.Reader) (Info, error) {
	info, err := f.Primary.Put(ctx, key, r)
	if err == nil || errors.Is(err, ErrBadKey) {
		return info, err
	}
	s, ok := r.(io.Seeker)
	if !ok {
		return Info{}, err
	}
	if _, serr := s.Seek(0, io.SeekStart); serr != nil {
		return Info{}, errors.Join(err, serr)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), spoolTimeout)
	defer cancel()
	info, serr := f.Spool.Put(sctx, key, r)
	if serr != nil {
		return Info{}, fmt.Errorf("%w; and the spool: %w", err, serr)
	}
	f.log().Warn("recording: the database did not take the recording; spooled on this node until it does", "key", key, "err", err)
	return info, nil
}

// SweepOrphans sweeps the database's (see Database.SweepOrphans).
func (f *Fallback) SweepOrphans(ctx context.Context) (int, error) {
	if o, ok := f.Primary.(orphanSweeper); ok {
		return o.SweepOrphans(ctx)
	}
	return 0, nil
}

// Open reads from the database, or the spool.
func (f *Fallback) Open(ctx context.Context, key string) (Object, error) {
	o, err := f.Primary.Open(ctx, key)
	if errors.Is(err, ErrNotFound) {
		if so, serr := f.Spool.Open(ctx, key); serr == nil {
			return so, nil
		}
	}
	return o, err
}

// Stat describes key in the database, or the spool.
func (f *Fallback) Stat(ctx context.Context, key string) (Info, error) {
	info, err := f.Primary.Stat(ctx, key)
	if errors.Is(err, ErrNotFound) {
		if si, serr := f.Spool.Stat(ctx, key); serr == nil {
			return si, nil
		}
	}
	return info, err
}

// Delete removes key from both; ErrNotFound if neither had it.
func (f *Fallback) Delete(ctx context.Context, key string) error {
	err := f.Primary.Delete(ctx, key)
	serr := f.Spool.Delete(ctx, key)
	switch {
	case err != nil && !errors.Is(err, ErrNotFound):
		return err
	case serr != nil && !errors.Is(serr, ErrNotFound):
		return serr
	case err != nil && serr != nil:
		return err // in neither
	}
	return nil
}

// Move copies the spooled recordings whose rows exist into the database
// and removes their files; it reports how many moved.
func (f *Fallback) Move(ctx context.Context) (int, error) {
	if _, err := Import(ctx, f.Spool, f.Primary, f.Index); err != nil {
		return 0, err
	}
	moved := 0
	keys, err := f.Spool.Keys()
	if err != nil {
		return 0, err
	}
	for _, key := range keys {
		ss, err := f.Spool.Stat(ctx, key)
		if err != nil {
			continue
		}
		if st, err := f.Primary.Stat(ctx, key); err == nil && st.Size == ss.Size {
			if err := f.Spool.Delete(ctx, key); err != nil {
				return moved, err
			}
			moved++
			f.log().Info("recording: spooled recording moved into the database", "key", key)
		}
	}
	return moved, nil
}

// Run moves spooled recordings every Every until ctx ends (nil then).
func (f *Fallback) Run(ctx context.Context) error {
	every := f.Every
	if every <= 0 {
		every = 30 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := f.Move(ctx); err != nil && ctx.Err() == nil {
			f.log().Warn("recording: spooled recordings not moved yet; tried again later", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (f *Fallback) log() *slog.Logger {
	if f.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return f.Logger
}
