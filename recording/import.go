package recording

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/hotline-dev/hotline/store"
)

// Keys lists the objects in the directory (not the temporary files of a
// Put in progress, nor anything else that is not a key).
func (d *Dir) Keys() ([]string, error) {
	ents, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, fmt.Errorf("recording: list %s: %w", d.dir, err)
	}
	var keys []string
	for _, e := range ents {
		if e.Type().IsRegular() && ValidKey(e.Name()) {
			keys = append(keys, e.Name())
		}
	}
	return keys, nil
}

// ImportResult counts what Import did.
type ImportResult struct {
	Imported int // copied into the store
	Present  int // already there with the same size
	Skipped  int // no live row in the recordings table (deleted, or not this database's)
}

// Import copies the recordings in from into to (recordings.store: dir to
// database, `hotline recordings import`): each file whose recording has
// a live row in index and that to lacks (or has with another size).
// Files are left in place; running it again copies nothing twice, so an
// import that stopped midway is finished by running it again.
func Import(ctx context.Context, from *Dir, to Store, index store.Recordings) (ImportResult, error) {
	var res ImportResult
	keys, err := from.Keys()
	if err != nil {
		return res, err
	}
	for _, key := range keys {
		id, _, _ := strings.Cut(key, ".")
		row, err := index.GetRecording(ctx, id)
		if errors.Is(err, store.ErrNotFound) || err == nil && (row.DeletedAt != nil || Key(row.ID, row.Format) != key) {
			res.Skipped++
			continue
		}
		if err != nil {
			return res, fmt.Errorf("recording: import %s: %w", key, err)
		}
		src, err := from.Open(ctx, key)
		if err != nil {
			return res, fmt.Errorf("recording: import %s: %w", key, err)
		}
		if st, err := to.Stat(ctx, key); err == nil && st.Size == src.Info().Size {
			_ = src.Close()
			res.Present++
			continue
		}
		_, err = to.Put(ctx, key, src)
		_ = src.Close()
		if err != nil {
			return res, fmt.Errorf("recording: import %s: %w", key, err)
		}
		res.Imported++
	}
	return res, nil
}
