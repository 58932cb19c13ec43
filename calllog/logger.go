package calllog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// CauseServerRestart is the hang-up cause of a call that was in progress
// when Hotline stopped without finishing it (a crash, kill -9, power loss).
const CauseServerRestart = "server-restart"

// Sink is where records go; store.Store implements it.
type Sink interface {
	LogCalls(ctx context.Context, rs []store.CallRecord) ([]store.LogResult, error)
}

// Options configure a Logger. SpoolDir is required.
type Options struct {
	SpoolDir      string
	Logger        *slog.Logger
	BatchSize     int           // records per LogCalls; default 256
	FlushInterval time.Duration // how long the writer lets a partial batch gather; default 50ms
	RetryBackoff  time.Duration // first wait after a database failure, doubling to MaxBackoff; default 250ms
	MaxBackoff    time.Duration // default 5s
	// WriteTimeout bounds one LogCalls call; default 10s. A batch that
	// times out is retried in halves.
	WriteTimeout time.Duration
	// CompactBytes: once this much of the spool is in the database, the
	// writer rewrites the spool without it (keeping the marks of calls in
	// progress); default 4 MiB. A spool with nothing left to keep is
	// emptied at once.
	CompactBytes int64
}

// Stats are counters since New.
type Stats struct {
	Queued     int   // entries handed over and waiting for the spool's fsync
	Spooled    int   // finished calls in the spool and not yet in the database
	InProgress int   // calls marked answered (Begin) and not finished yet
	Written    int64 // interactions written to the database
	Dupes      int64 // records the database already had (replays)
	Rejected   int64 // records the database refused as invalid (see rejected.jsonl)
	Failures   int64 // failed database writes
	Recovered  int64 // calls found cut off at start and recorded as server-restart
	Syncs      int64 // spool fsyncs (each commits a group of entries)
}

// Mark is a call's durable "answered" entry, from Begin; Finish closes it.
type Mark struct {
	id       uint64
	finished atomic.Bool
}

// Logger is the call logger. Create with New, start Run, stop with Close.
type Logger struct {
	sink Sink
	o    Options
	log  *slog.Logger

	// fileMu serialises changes to the spool file: the flusher's appends
	// and Run's compaction. size changes only with fileMu and mu held.
	fileMu sync.Mutex
	sp     *spool

	mu       sync.Mutex
	size     int64             // bytes of durable entries in the spool
	cur      *batch            // entries waiting for the next fsync
	open     map[uint64][]byte // framed begin entries of calls in progress
	openSize int64             // their bytes
	nextMark uint64
	spooled  int
	closed   bool
	running  bool
	finalCtx context.Context // Close's context: bounds Run's last drain
	abort    context.Context // done once Close's context ends: Run gives up its write
	abortRun context.CancelCauseFunc
	stats    Stats
	changed  chan struct{} // closed and replaced on every state change

	kick      chan struct{} // a batch waits for the flusher
	grown     chan struct{} // the spool grew: wakes Run
	stop      chan struct{} // Close: Run drains and returns
	done      chan struct{} // Run returned
	flushStop chan struct{}
	flushDone chan struct{}
}

// batch is one group commit: every entry appended while the previous
// fsync ran, written and synced together.
type batch struct {
	buf   []byte
	items []item
	done  chan struct{} // closed once written (err set before)
	err   error
}

type item struct {
	kind string
	mark uint64
	buf  []byte // the framed entry (kept for begin entries)
}

func newBatch() *batch { return &batch{done: make(chan struct{})} }

// New opens the spool (checking it, cutting a torn tail), records every
// call a previous process left marked but unfinished as failed with cause
// server-restart, and starts the spool's flusher. Records in the spool are
// written to the database by Run.
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
	def(&o.RetryBackoff, 250*time.Millisecond)
	def(&o.MaxBackoff, 5*time.Second)
	def(&o.WriteTimeout, 10*time.Second)
	if o.BatchSize <= 0 {
		o.BatchSize = 256
	}
	if o.CompactBytes <= 0 {
		o.CompactBytes = 4 << 20
	}
	sp, rec, err := openSpool(o.SpoolDir, o.Logger)
	if err != nil {
		return nil, err
	}
	abort, abortRun := context.WithCancelCause(context.Background())
	l := &Logger{sink: sink, o: o, log: o.Logger, sp: sp, abort: abort, abortRun: abortRun,
		size: rec.size, cur: newBatch(), open: map[uint64][]byte{}, nextMark: rec.maxMark + 1, spooled: rec.ends,
		changed: make(chan struct{}), kick: make(chan struct{}, 1), grown: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}), flushStop: make(chan struct{}), flushDone: make(chan struct{})}
	if err := l.recover(rec); err != nil {
		_ = sp.close()
		return nil, err
	}
	if l.spooled > 0 {
		l.log.Info("calllog: spool holds records from a previous run; replaying", "records", l.spooled)
	}
	go l.flushLoop()
	return l, nil
}

// recover closes the marks a dead process left open: those calls were cut
// off when it stopped, so each gets its record now (failed,
// server-restart), appended and synced before any new call is taken. A
// crash during this leaves the marks open, and the next start does it
// again; the end entries it did write close theirs, so no call gets two.
func (l *Logger) recover(rec recovered) error {
	if len(rec.open) == 0 {
		return nil
	}
	ids := make([]uint64, 0, len(rec.open))
	for id := range rec.open {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var buf []byte
	n := 0
	for _, id := range ids {
		r, err := rec.open[id].record()
		if err != nil {
			// Framed and checksummed, yet not a record: written by a
			// different version. Nothing to record it with.
			l.log.Error("calllog: cannot read the mark of a call cut off by the last stop", "mark", id, "err", err)
			continue
		}
		if buf, err = appendEntry(buf, entry{Kind: kindEnd, Mark: id, Record: cutOff(r, rec.modTime)}); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return nil
	}
	if err := l.sp.writeAt(l.size, buf); err != nil {
		return fmt.Errorf("calllog: record calls cut off by the last stop: %w", err)
	}
	l.size += int64(len(buf))
	l.spooled += n
	l.stats.Recovered = int64(n)
	l.log.Warn("calllog: calls were in progress when Hotline last stopped; recorded as failed (server-restart)", "calls", n)
	return nil
}

// cutOff turns a call's begin record into the record of a call cut off by
// a stop. The last spool write is the best bound on when that happened.
func cutOff(r store.CallRecord, lastWrite time.Time) store.CallRecord {
	r.EndedAt = lastWrite
	if r.EndedAt.Before(r.StartedAt) {
		r.EndedAt = r.StartedAt
	}
	r.Voice.Outcome = store.OutcomeFailed
	r.Voice.HangupCause = CauseServerRestart
	r.Voice.HangupSide = "hotline"
	r.Summary = "IVR " + r.Voice.FlowName + ": cut off when Hotline stopped (" + string(store.OutcomeFailed) + ")"
	return r
}

// Begin records durably that a call was answered: r holds what is known
// then (Call-ID, caller, called, flow, start time). It returns once the
// mark is fsync'd (with other entries: a group commit). If the process
// dies before Finish, the next start records the call as failed with
// cause server-restart. On error (the spool cannot be written) the mark is
// nil, and Finish(nil, ...) still logs the call.
func (l *Logger) Begin(r store.CallRecord) (*Mark, error) {
	l.mu.Lock()
	id := l.nextMark
	l.nextMark++
	l.mu.Unlock()
	buf, err := appendEntry(nil, entry{Kind: kindBegin, Mark: id, Record: r})
	if err != nil {
		return nil, err
	}
	if err := l.commit(item{kind: kindBegin, mark: id, buf: buf}); err != nil {
		return nil, err
	}
	return &Mark{id: id}, nil
}

// Finish hands a finished call's record over and closes its mark (m may
// be nil: a call that was never marked). It returns once the record is
// fsync'd in the spool (a group commit with other calls: no fsync of its
// own), never waiting for the database; Run writes it there. An error
// means the spool could not be written (disk full): the record is lost
// (the mark, if it was written, still gets a server-restart record at the
// next start). Begin and Finish do not log; their callers have the call's
// logger.
func (l *Logger) Finish(m *Mark, r store.CallRecord) error {
	e := entry{Kind: kindEnd, Record: r}
	if m != nil {
		if m.finished.Swap(true) {
			return fmt.Errorf("%w: call %s", ErrFinished, r.Voice.CallID)
		}
		e.Mark = m.id
	}
	buf, err := appendEntry(nil, e)
	if err != nil {
		return err
	}
	return l.commit(item{kind: kindEnd, mark: e.Mark, buf: buf})
}

// Log is Finish for a call that was never marked.
func (l *Logger) Log(r store.CallRecord) error { return l.Finish(nil, r) }

// commit adds one framed entry to the next group commit and waits for it.
func (l *Logger) commit(it item) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	b := l.cur
	b.buf = append(b.buf, it.buf...)
	b.items = append(b.items, it)
	l.stats.Queued++
	l.notifyLocked()
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
	<-b.done
	return b.err
}

// flushLoop is the group commit: while one fsync runs, new entries gather
// in the next batch, which the following fsync commits together. Under
// load many calls share an fsync; alone, an entry waits for one.
func (l *Logger) flushLoop() {
	defer close(l.flushDone)
	for {
		select {
		case <-l.kick:
			l.flush()
		case <-l.flushStop:
			l.flush() // Close stopped new entries; commit the last ones
			return
		}
	}
}

func (l *Logger) flush() {
	l.mu.Lock()
	b := l.cur
	if len(b.items) == 0 {
		l.mu.Unlock()
		return
	}
	l.cur = newBatch()
	l.mu.Unlock()

	l.fileMu.Lock()
	err := l.sp.writeAt(l.size, b.buf) // size is stable: it changes only under fileMu
	l.mu.Lock()
	l.stats.Queued -= len(b.items)
	if err == nil {
		l.size += int64(len(b.buf))
		l.stats.Syncs++
		for _, it := range b.items {
			switch it.kind {
			case kindBegin:
				l.open[it.mark] = it.buf
				l.openSize += int64(len(it.buf))
			case kindEnd:
				if m, ok := l.open[it.mark]; ok {
					l.openSize -= int64(len(m))
					delete(l.open, it.mark)
				}
				l.spooled++
			}
		}
	} else {
		l.log.Error("calllog: cannot write the spool", "entries", len(b.items), "err", err)
	}
	l.notifyLocked()
	l.mu.Unlock()
	l.fileMu.Unlock()

	b.err = err
	close(b.done)
	select {
	case l.grown <- struct{}{}:
	default:
	}
}

// Stats returns the counters.
func (l *Logger) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.Spooled, s.InProgress = l.spooled, len(l.open)
	return s
}

// WaitIdle blocks until every record handed over so far is in the
// database (nothing waiting for the spool, nothing in the spool) or ctx
// ends. Calls in progress do not count.
func (l *Logger) WaitIdle(ctx context.Context) error {
	return l.waitFor(ctx, func() bool { return l.stats.Queued == 0 && l.spooled == 0 })
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

// Shutdown stops taking entries (Begin and Finish then fail with
// ErrClosed), commits those already handed over to the spool, lets Run
// write what it can to the database within ctx, waits for Run to return and
// closes the spool. Records not written stay in the spool for the next
// start (the error says so when ctx, or a Close, cut the writing short);
// marks of calls never finished are recorded as server-restart then. Call
// it once, after the calls have ended; a second call returns ErrClosed.
func (l *Logger) Shutdown(ctx context.Context) error { return l.shutdown(ctx, false) }

// Close is Shutdown without the database: it commits what was handed over
// to the spool, leaves every record not yet in the database there (durable,
// written at the next start), and closes. Called while a Shutdown waits, it
// ends that wait. It is safe to call more than once.
func (l *Logger) Close() error {
	now, cancel := context.WithCancelCause(context.Background())
	cancel(errClosedNow)
	return l.shutdown(now, true)
}

// errClosedNow is why Run gave up a write when Close was called.
var errClosedNow = errors.New("calllog: closed at once (Close)")

func (l *Logger) shutdown(ctx context.Context, now bool) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		if now {
			l.abortRun(errClosedNow) // a Shutdown in progress gives up its write
			return nil
		}
		return ErrClosed
	}
	l.closed = true
	l.finalCtx = ctx
	running := l.running
	l.mu.Unlock()
	close(l.flushStop)
	<-l.flushDone
	close(l.stop)
	var err error
	if running {
		stop := context.AfterFunc(ctx, func() { l.abortRun(context.Cause(ctx)) })
		<-l.done // Run's last drain, and any write in flight, end with ctx (or Close)
		stop()
		if cause := context.Cause(l.abort); cause != nil && !now {
			err = fmt.Errorf("calllog: close: records left in the spool: %w", cause)
		}
	}
	l.abortRun(ErrClosed) // releases the context
	return errors.Join(err, l.sp.close())
}

// isClosed reports whether Shutdown or Close has begun (tests).
func (l *Logger) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}
