package calllog

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// Run is the writer: it reads the spool's end entries in order and writes
// them to the store in batches, retrying with backoff while the store
// fails, and compacts the spool once enough of it is in the database. It
// returns nil on a clean stop: after Shutdown (having written what it could
// within Shutdown's context) or Close, or when ctx ends. Records it has not
// written stay in the spool: they are durable already.
func (l *Logger) Run(ctx context.Context) error {
	l.mu.Lock()
	if l.running {
		l.mu.Unlock()
		return ErrRunning
	}
	l.running = true
	closed := l.closed
	l.mu.Unlock()
	defer close(l.done)
	if closed {
		return nil
	}
	// A write still running when Close's context ends is abandoned, so
	// Close never waits longer than its context for a hung database.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(l.abort, cancel)()
	err := l.run(ctx)
	select {
	case <-l.stop:
		return nil // Shutdown or Close asked; what is not written stays in the spool
	default:
	}
	if ctx.Err() != nil {
		return nil // a clean stop: the same
	}
	return err
}

func (l *Logger) run(ctx context.Context) error {
	w := &writer{l: l, batch: l.o.BatchSize, backoff: l.o.RetryBackoff}
	for {
		if w.caughtUp() {
			select {
			case <-l.grown:
				// Let a partial batch gather before writing it.
				if !w.pause(ctx, l.o.FlushInterval) {
					return w.end(ctx)
				}
			case <-l.stop:
				return w.end(ctx)
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		if err := w.step(ctx); err != nil {
			l.log.Warn("calllog: database write failed; records stay in the spool", "err", err, "retry_in", w.backoff)
			if !w.pause(ctx, w.backoff) {
				return w.end(ctx)
			}
			w.backoff = min(2*w.backoff, l.o.MaxBackoff)
		}
	}
}

// writer is Run's state.
type writer struct {
	l       *Logger
	off     int64 // the spool before off is in the database (or holds only marks)
	batch   int   // records per write; halved after a timeout
	backoff time.Duration
}

func (w *writer) caughtUp() bool {
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	return w.off >= w.l.size
}

// pause waits d; false when Close or ctx ended the wait.
func (w *writer) pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-w.l.stop:
		return false
	case <-ctx.Done():
		return false
	}
}

// end runs once Close (or ctx) stopped Run: one pass writing what is left,
// bounded by Close's context.
func (w *writer) end(ctx context.Context) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	w.l.mu.Lock()
	fctx := w.l.finalCtx
	w.l.mu.Unlock()
	if fctx == nil {
		return nil
	}
	for !w.caughtUp() && fctx.Err() == nil {
		if err := w.step(fctx); err != nil {
			w.l.log.Info("calllog: records left in the spool for the next start", "records", w.l.Stats().Spooled, "err", err)
			break
		}
	}
	return nil
}

// step writes the next batch from the spool and compacts when due.
func (w *writer) step(ctx context.Context) error {
	l := w.l
	l.mu.Lock()
	size := l.size
	l.mu.Unlock()
	recs, next, err := l.sp.readEnds(w.off, size, w.batch)
	if err != nil {
		return err
	}
	if len(recs) > 0 {
		if err := w.write(ctx, recs); err != nil {
			if errors.Is(err, context.DeadlineExceeded) && w.batch > 1 {
				w.batch /= 2 // a slow database may take a smaller batch in time
			}
			return err
		}
		w.batch = min(2*w.batch, l.o.BatchSize)
		w.backoff = l.o.RetryBackoff
	}
	w.off = next
	l.mu.Lock()
	l.spooled -= len(recs)
	l.notifyLocked()
	l.mu.Unlock()
	w.compact()
	return nil
}

// compact rewrites the spool without what is in the database: when all of
// it is there and no call is in progress (truncate), or when that would
// free CompactBytes (copy the open marks and the rest).
func (w *writer) compact() {
	l := w.l
	l.mu.Lock()
	due := w.off > 0 && ((w.off >= l.size && len(l.open) == 0) || w.off-l.openSize >= l.o.CompactBytes)
	l.mu.Unlock()
	if !due {
		return
	}
	l.fileMu.Lock() // no append runs meanwhile, so size and open are stable
	defer l.fileMu.Unlock()
	l.mu.Lock()
	size := l.size
	ids := make([]uint64, 0, len(l.open))
	for id := range l.open {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var marks []byte
	for _, id := range ids {
		marks = append(marks, l.open[id]...)
	}
	l.mu.Unlock()
	newSize, newOff, err := l.sp.compact(w.off, size, marks)
	if err != nil {
		l.log.Warn("calllog: spool compaction failed; will retry", "err", err)
		return
	}
	l.mu.Lock()
	l.size, w.off = newSize, newOff
	l.notifyLocked()
	l.mu.Unlock()
	if newSize == 0 {
		l.log.Debug("calllog: spool emptied")
	}
}

// write sends a batch to the store. A batch refused as invalid is retried
// record by record; records the store refuses go to rejected.jsonl.
func (w *writer) write(ctx context.Context, batch []store.CallRecord) error {
	l := w.l
	wctx, cancel := context.WithTimeout(ctx, l.o.WriteTimeout)
	defer cancel()
	res, err := l.sink.LogCalls(wctx, batch)
	if err == nil {
		l.count(res)
		return nil
	}
	if !errors.Is(err, store.ErrInvalid) {
		l.mu.Lock()
		l.stats.Failures++
		l.notifyLocked()
		l.mu.Unlock()
		return err
	}
	if len(batch) == 1 {
		l.reject(batch[0], err)
		return nil
	}
	for _, r := range batch {
		if err := w.write(ctx, []store.CallRecord{r}); err != nil {
			return err
		}
	}
	return nil
}

func (l *Logger) count(res []store.LogResult) {
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.notifyLocked()
	for _, r := range res {
		if r.Duplicate {
			l.stats.Dupes++
		} else {
			l.stats.Written++
		}
	}
}

// reject keeps a record the store will never accept, for a person to look
// at, instead of retrying it forever.
func (l *Logger) reject(r store.CallRecord, why error) {
	l.log.Error("calllog: store refused a call record; kept in rejected.jsonl", "call_id", r.Voice.CallID, "err", why)
	l.mu.Lock()
	l.stats.Rejected++
	l.notifyLocked()
	l.mu.Unlock()
	line, err := json.Marshal(struct {
		Error  string           `json:"error"`
		Record store.CallRecord `json:"record"`
	}{why.Error(), r})
	if err != nil {
		return
	}
	f, err := os.OpenFile(filepath.Join(l.o.SpoolDir, "rejected.jsonl"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		l.log.Error("calllog: cannot keep rejected record", "err", err)
		return
	}
	_, _ = f.Write(append(line, '\n'))
	_ = f.Close()
}
