// Package calllog records finished calls in the ticket history without
// slowing the call path down.
//
// Log hands a record to a bounded in-memory queue and returns; Run's
// writer goroutine writes the queue to the store in batches (LogCalls).
// When the queue is full or the database fails, records go to an
// append-only spool file instead, fsync'd before Log returns; the writer
// replays the spool in order once the database answers, and empties it only
// after the database has committed every record in it.
//
// Durability rule: a record is durable once it is in the spool or
// committed to the database. A record still in the in-memory queue is lost
// if the process is killed (a clean Close writes it to the database or the
// spool first). Replay is exactly-once in effect: the store ignores a
// Call-ID it already has, so a record replayed twice after a crash between
// the database commit and the spool truncation is written once.
package calllog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// Sink is where records go; store.Store implements it.
type Sink interface {
	LogCalls(ctx context.Context, rs []store.CallRecord) ([]store.LogResult, error)
}

// Options configure a Logger. SpoolDir is required.
type Options struct {
	SpoolDir      string
	Logger        *slog.Logger
	BatchSize     int           // records per LogCalls; default 256
	FlushInterval time.Duration // how long a partial batch waits for more; default 50ms
	RetryBackoff  time.Duration // first wait after a database failure, doubling to MaxBackoff; default 500ms
	MaxBackoff    time.Duration // default 30s
	QueueSize     int           // in-memory queue; default 10000
	// WriteTimeout bounds one LogCalls call; default 30s.
	WriteTimeout time.Duration
}

// Stats are counters since New.
type Stats struct {
	Queued   int   // in the memory queue (or being written) now
	Spooled  int   // in the spool file now
	Written  int64 // interactions written to the database
	Dupes    int64 // records the database already had (replays)
	Rejected int64 // records the database refused as invalid (see rejected.jsonl)
	Failures int64 // failed database writes
}

// Logger is the call logger. Create with New, start Run, stop with Close.
type Logger struct {
	sink  Sink
	o     Options
	log   *slog.Logger
	queue chan store.CallRecord
	stop  chan struct{}
	done  chan struct{}
	kick  chan struct{} // something was spooled

	mu       sync.Mutex
	spool    *spool
	spooling bool // new records go to the spool (keeps order while it drains)
	pending  int  // records accepted into the queue and not yet in the database or the spool
	running  bool
	closed   bool
	stats    Stats
	changed  chan struct{} // closed and replaced on every state change
}

// New opens the spool (checking it, cutting a torn tail) and returns a
// Logger. Records left in the spool by a previous run are replayed by Run.
func New(sink Sink, o Options) (*Logger, error) {
	if o.SpoolDir == "" {
		return nil, &store.FieldError{Field: "database.spool_dir", Message: "required"}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.FlushInterval, 50*time.Millisecond)
	def(&o.RetryBackoff, 500*time.Millisecond)
	def(&o.MaxBackoff, 30*time.Second)
	def(&o.WriteTimeout, 30*time.Second)
	if o.BatchSize <= 0 {
		o.BatchSize = 256
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 10000
	}
	sp, err := openSpool(o.SpoolDir, o.Logger)
	if err != nil {
		return nil, err
	}
	l := &Logger{sink: sink, o: o, log: o.Logger, queue: make(chan store.CallRecord, o.QueueSize),
		stop: make(chan struct{}), done: make(chan struct{}), kick: make(chan struct{}, 1),
		spool: sp, spooling: sp.count > 0, changed: make(chan struct{})}
	if sp.count > 0 {
		l.log.Info("calllog: spool holds records from a previous run; replaying", "records", sp.count)
	}
	return l, nil
}

// Log hands a finished call over. It never waits for the database: the
// record goes to the memory queue, or, when that is full or the database is
// down, to the spool (an fsync). A nil error means the record will be
// written; an error means the spool could not be written (disk full) and
// the record is lost, which is also logged.
func (l *Logger) Log(r store.CallRecord) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.spooling && !l.closed {
		select {
		case l.queue <- r:
			l.pending++
			l.notifyLocked()
			return nil
		default:
			l.log.Warn("calllog: queue full, spooling", "queue", cap(l.queue))
		}
	}
	if err := l.spool.append(r); err != nil {
		l.log.Error("calllog: call record lost: cannot spool it", "call_id", r.Voice.CallID, "err", err)
		return err
	}
	l.spooling = true
	l.notifyLocked()
	select {
	case l.kick <- struct{}{}:
	default:
	}
	return nil
}

// Stats returns the counters.
func (l *Logger) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.Queued, s.Spooled = l.pending, l.spool.count
	return s
}

// WaitIdle blocks until every record logged so far is in the database
// (queue and spool empty, nothing in flight) or ctx ends.
func (l *Logger) WaitIdle(ctx context.Context) error {
	return l.waitFor(ctx, func() bool { return l.pending == 0 && l.spool.count == 0 })
}

// waitFor blocks until cond (called with mu held) is true.
func (l *Logger) waitFor(ctx context.Context, cond func() bool) error {
	for {
		l.mu.Lock()
		ok, ch := cond(), l.changed
		l.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("calllog: wait: %w", ctx.Err())
		}
	}
}

func (l *Logger) notifyLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// Close stops accepting work into the queue (later Log calls go to the
// spool), lets Run write what is queued (to the database, or the spool if
// that fails) and waits for Run to return or ctx to end. Call it once.
func (l *Logger) Close(ctx context.Context) error {
	l.mu.Lock()
	first := !l.closed
	l.closed = true
	running := l.running
	l.mu.Unlock()
	if first {
		close(l.stop)
	}
	if running {
		select {
		case <-l.done:
		case <-ctx.Done():
			return fmt.Errorf("calllog: close: %w", ctx.Err())
		}
	}
	// Whatever is still queued (Run never started, or it ended with its
	// context before Close) goes to the spool for the next start.
	ferr := l.flushToSpool(nil)
	l.mu.Lock()
	defer l.mu.Unlock()
	return errors.Join(ferr, l.spool.close())
}
