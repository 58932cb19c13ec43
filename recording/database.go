package recording

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// Database is a Store in the ticket database (recordings.store: database):
// every node of a cluster sharing the PostgreSQL database reads what any
// node wrote, with no shared filesystem. The audio is in chunks
// (store.RecordingAudio), so Open reads only what a range request needs.
// Put returns once the whole object committed (its chunks, then the
// header naming them): the recording's row, written after it, never
// names missing audio.
type Database struct {
	a store.RecordingAudio
}

var _ Store = (*Database)(nil)

// NewDatabase returns a Store over a.
func NewDatabase(a store.RecordingAudio) *Database { return &Database{a: a} }

// Put stores r under key (store.RecordingAudio.PutAudio).
func (d *Database) Put(ctx context.Context, key string, r io.Reader) (Info, error) {
	if !ValidKey(key) {
		return Info{}, fmt.Errorf("%w: %q", ErrBadKey, key)
	}
	info, err := d.a.PutAudio(ctx, key, ctxReader{ctx, r})
	if err != nil {
		return Info{}, dbErr("put", key, err)
	}
	return Info(info), nil
}

// Open opens key; its chunks are read with ctx as the reads reach them.
func (d *Database) Open(ctx context.Context, key string) (Object, error) {
	if !ValidKey(key) {
		return nil, fmt.Errorf("%w: %q", ErrBadKey, key)
	}
	o, err := d.a.OpenAudio(ctx, key)
	if err != nil {
		return nil, dbErr("open", key, err)
	}
	return dbObject{o}, nil
}

// Stat describes key.
func (d *Database) Stat(ctx context.Context, key string) (Info, error) {
	if !ValidKey(key) {
		return Info{}, fmt.Errorf("%w: %q", ErrBadKey, key)
	}
	info, err := d.a.StatAudio(ctx, key)
	if err != nil {
		return Info{}, dbErr("stat", key, err)
	}
	return Info(info), nil
}

// Delete removes key and its audio.
func (d *Database) Delete(ctx context.Context, key string) error {
	if !ValidKey(key) {
		return fmt.Errorf("%w: %q", ErrBadKey, key)
	}
	return dbErr("delete", key, d.a.DeleteAudio(ctx, key))
}

// orphanAge is how long a Put's chunks may stay unnamed before the sweep
// deletes them: far longer than a Put of the longest recording takes.
const orphanAge = 6 * time.Hour

// orphanSweeper is a Store whose interrupted writes can leave pieces no
// object names (Database: a node killed mid-Put); the retention sweep
// removes them.
type orphanSweeper interface {
	SweepOrphans(ctx context.Context) (int, error)
}

// SweepOrphans deletes the chunks of Puts a crash cut short (begun over
// orphanAge ago, named by no object) and reports how many.
func (d *Database) SweepOrphans(ctx context.Context) (int, error) {
	n, err := d.a.DeleteAudioOrphans(ctx, orphanAge)
	if err != nil {
		return n, fmt.Errorf("recording: sweep orphaned audio in the database: %w", err)
	}
	return n, nil
}

func dbErr(op, key string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return fmt.Errorf("recording: %s %s in the database: %w", op, key, err)
}

type dbObject struct{ store.AudioObject }

func (o dbObject) Info() Info { return Info(o.AudioObject.Info()) }
