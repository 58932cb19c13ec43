package calllog

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// Run is the writer: it batches the queue into the store, spools on
// failure, and replays the spool when the store answers again. It returns
// nil after Close, or ctx's error when ctx ends; either way queued records
// are written to the spool first.
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
	backoff := l.o.RetryBackoff
	for {
		var err error
		l.mu.Lock()
		replay := l.spooling && len(l.queue) == 0
		l.mu.Unlock()
		if replay {
			err = l.replay(ctx)
		} else {
			select {
			case <-l.stop:
				return l.finish(context.WithoutCancel(ctx))
			case <-ctx.Done():
				_ = l.flushToSpool(nil)
				return ctx.Err()
			case r := <-l.queue:
				err = l.writeQueued(ctx, r)
			case <-l.kick:
				continue
			}
		}
		if err == nil {
			backoff = l.o.RetryBackoff
			continue
		}
		l.log.Warn("calllog: database write failed; records are spooled", "err", err, "retry_in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-l.stop:
			t.Stop()
			return l.finish(context.WithoutCancel(ctx))
		case <-ctx.Done():
			t.Stop()
			_ = l.flushToSpool(nil)
			return ctx.Err()
		}
		backoff = min(2*backoff, l.o.MaxBackoff)
	}
}

// finish runs on Close: one attempt to write the queue, else spool it.
func (l *Logger) finish(ctx context.Context) error {
	batch := l.drainQueue(nil)
	// Queued records are older than any spooled ones, so they are written
	// first; only if that fails do they follow the spool.
	if len(batch) > 0 {
		if err := l.write(ctx, batch); err == nil {
			l.done1(len(batch))
			return nil
		}
	}
	return l.flushToSpool(batch)
}

// writeQueued collects a batch starting with first and writes it; on
// failure the batch and the rest of the queue go to the spool, in order.
func (l *Logger) writeQueued(ctx context.Context, first store.CallRecord) error {
	batch := []store.CallRecord{first}
	timer := time.NewTimer(l.o.FlushInterval)
	defer timer.Stop()
collect:
	for len(batch) < l.o.BatchSize {
		select {
		case r := <-l.queue:
			batch = append(batch, r)
		case <-timer.C:
			break collect
		case <-l.stop:
			break collect
		}
	}
	err := l.write(ctx, batch)
	if err == nil {
		l.done1(len(batch))
		return nil
	}
	if serr := l.flushToSpool(batch); serr != nil {
		err = errors.Join(err, serr)
	}
	return err
}

// drainQueue appends everything in the queue now to rs, without waiting.
func (l *Logger) drainQueue(rs []store.CallRecord) []store.CallRecord {
	for {
		select {
		case r := <-l.queue:
			rs = append(rs, r)
		default:
			return rs
		}
	}
}

// done1 marks n queued records as written.
func (l *Logger) done1(n int) {
	l.mu.Lock()
	l.pending -= n
	l.notifyLocked()
	l.mu.Unlock()
}

// flushToSpool spools held (older) then everything queued, and switches new
// records to the spool so their order is kept.
func (l *Logger) flushToSpool(held []store.CallRecord) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	rs := l.drainQueue(held)
	if len(rs) == 0 {
		return nil
	}
	l.pending -= len(rs)
	l.spooling = true
	l.notifyLocked()
	if err := l.spool.append(rs...); err != nil {
		l.log.Error("calllog: call records lost: cannot spool them", "records", len(rs), "err", err)
		return err
	}
	return nil
}

// write sends a batch to the store. A batch refused as invalid is retried
// record by record; records the store refuses go to rejected.jsonl.
func (l *Logger) write(ctx context.Context, batch []store.CallRecord) error {
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
		l.mu.Unlock()
		return err
	}
	if len(batch) == 1 {
		l.reject(batch[0], err)
		return nil
	}
	for _, r := range batch {
		if err := l.write(ctx, []store.CallRecord{r}); err != nil {
			return err
		}
	}
	return nil
}

func (l *Logger) count(res []store.LogResult) {
	l.mu.Lock()
	defer l.mu.Unlock()
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

// replay writes the spool to the store in order, batch by batch, and
// empties it once all of it is committed. Records spooled meanwhile are
// replayed in the same pass.
func (l *Logger) replay(ctx context.Context) error {
	var off int64
	for {
		l.mu.Lock()
		limit := l.spool.size
		if off >= limit {
			// Everything spooled is in the database: empty the spool
			// (under the lock, so no Log appends meanwhile).
			err := l.spool.reset()
			if err == nil {
				l.spooling = false
				l.log.Info("calllog: spool replayed")
			}
			l.notifyLocked()
			l.mu.Unlock()
			return err
		}
		l.mu.Unlock()
		batch, next, err := l.spool.read(off, limit, l.o.BatchSize)
		if err != nil {
			return err
		}
		if len(batch) > 0 {
			if err := l.write(ctx, batch); err != nil {
				return err
			}
		}
		off = next
	}
}
