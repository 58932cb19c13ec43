package calllog

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
	"github.com/hotline-dev/hotline/store/sqlite"
	"github.com/hotline-dev/hotline/store/storeopen"
)

func TestMain(m *testing.M) {
	if crashChild() {
		return
	}
	goleak.VerifyTestMain(m)
}

func openSQLite(t *testing.T, path string) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, store.Options{DefaultCountry: "VN"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// start runs l in a goroutine owned by the test and stops it at cleanup.
func start(t *testing.T, l *Logger) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- l.Run(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := l.Shutdown(ctx); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("close: %v", err)
		}
		if err := <-errc; err != nil {
			t.Errorf("run: %v", err)
		}
	})
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// closeNow closes l (a test's cleanup may close it again: ErrClosed).
func closeNow(t *testing.T, l *Logger) {
	t.Helper()
	if err := l.Shutdown(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
}

// voiceCalls lists every voice interaction.
func voiceCalls(t *testing.T, s store.Store) []store.Interaction {
	t.Helper()
	var out []store.Interaction
	cur := ""
	for {
		page, next, err := s.ListInteractions(t.Context(), store.InteractionFilter{Channel: store.ChannelVoice}, store.Page{Limit: 500, Cursor: cur})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page...)
		if cur = next; cur == "" {
			return out
		}
	}
}

// countCalls returns how many voice interactions each Call-ID has.
func countCalls(t *testing.T, s store.Store) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, in := range voiceCalls(t, s) {
		got[in.Voice.CallID]++
	}
	return got
}

func wantOnce(t *testing.T, got map[string]int, ids []string) {
	t.Helper()
	if len(got) != len(ids) {
		t.Errorf("%d distinct calls stored; want %d", len(got), len(ids))
	}
	for _, id := range ids {
		if got[id] != 1 {
			t.Errorf("call %s stored %d times; want once", id, got[id])
		}
	}
}

func TestLoggerWritesBatches(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "h.db"))
	l, err := New(s, Options{SpoolDir: t.TempDir(), BatchSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	start(t, l)
	var ids []string
	for i := range 100 {
		id := fmt.Sprintf("call-%03d", i)
		ids = append(ids, id)
		r := sample(id)
		r.Voice.CallerNumber = fmt.Sprintf("09120000%02d", i%10)
		if err := l.Log(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.WaitIdle(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
	wantOnce(t, countCalls(t, s), ids)
	st := l.Stats()
	if st.Written != 100 || st.Spooled != 0 || st.Queued != 0 {
		t.Fatalf("stats = %+v", st)
	}
	cs, _, err := s.ListCustomers(t.Context(), store.CustomerFilter{}, store.Page{})
	if err != nil || len(cs) != 10 {
		t.Fatalf("%d customers (%v); want 10", len(cs), err)
	}
}

// gateSink blocks every write until opened, and records the order it saw.
type gateSink struct {
	gate  chan struct{}
	inner Sink
	mu    sync.Mutex
	order []string
	calls atomic.Int64
}

func (g *gateSink) LogCalls(ctx context.Context, rs []store.CallRecord) ([]store.LogResult, error) {
	g.calls.Add(1)
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	res, err := g.inner.LogCalls(ctx, rs)
	if err == nil {
		g.mu.Lock()
		for _, r := range rs {
			g.order = append(g.order, r.Voice.CallID)
		}
		g.mu.Unlock()
	}
	return res, err
}

// With the database blocked, records pile up in the spool; once it
// answers they are written in the order the calls finished.
func TestDatabaseBlockedKeepsOrder(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "h.db"))
	g := &gateSink{gate: make(chan struct{}), inner: s}
	l, err := New(g, Options{SpoolDir: t.TempDir(), BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	start(t, l)
	var ids []string
	for i := range 40 {
		id := fmt.Sprintf("c%02d", i)
		ids = append(ids, id)
		if err := l.Log(sample(id)); err != nil {
			t.Fatal(err)
		}
	}
	if st := l.Stats(); st.Spooled != 40 {
		t.Fatalf("with the writer blocked, want all 40 in the spool: %+v", st)
	}
	close(g.gate)
	if err := l.WaitIdle(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
	wantOnce(t, countCalls(t, s), ids)
	g.mu.Lock()
	defer g.mu.Unlock()
	if fmt.Sprint(g.order) != fmt.Sprint(ids) {
		t.Fatalf("written in order %v; want %v", g.order, ids)
	}
}

// refusedURL is a PostgreSQL URL on a loopback port nobody listens on.
func refusedURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "postgres://postgres@" + addr + "/test?sslmode=disable&connect_timeout=2"
}

func TestSpoolWhileDatabaseDown(t *testing.T) {
	realURL := pgtest.Schema(t)
	var url atomic.Pointer[string]
	down := refusedURL(t)
	url.Store(&down)
	var opens atomic.Int64
	sink := NewReopener(func(ctx context.Context) (store.Store, error) {
		opens.Add(1)
		return storeopen.Open(ctx, *url.Load(), store.Options{DefaultCountry: "VN"})
	})
	defer sink.Close()
	l, err := New(sink, Options{SpoolDir: t.TempDir(), BatchSize: 8, RetryBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start(t, l)
	const n = 50
	var ids []string
	for i := range n {
		id := fmt.Sprintf("down-%02d@host", i)
		ids = append(ids, id)
		if err := l.Log(sample(id)); err != nil {
			t.Fatal(err)
		}
	}
	// Every record is in the spool (Log returned) while the database refuses.
	if st := l.Stats(); st.Spooled != n || st.Queued != 0 {
		t.Fatalf("stats %+v; want %d spooled", st, n)
	}
	if err := l.waitFor(waitCtx(t), func() bool { return l.stats.Failures > 0 }); err != nil {
		t.Fatalf("%v; stats %+v", err, l.Stats())
	}
	if opens.Load() == 0 {
		t.Fatal("the logger never tried the database")
	}
	url.Store(&realURL) // the database comes back
	if err := l.WaitIdle(waitCtx(t)); err != nil {
		t.Fatalf("%v; stats %+v", err, l.Stats())
	}
	s, err := sink.Store(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	wantOnce(t, countCalls(t, s), ids)
	if st := l.Stats(); st.Written != n || st.Spooled != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestInvalidRecordRejectedNotRetried(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "h.db"))
	dir := t.TempDir()
	l, err := New(s, Options{SpoolDir: dir, BatchSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	start(t, l)
	bad := sample("bad")
	bad.Direction = "sideways"
	for _, r := range []store.CallRecord{sample("ok1"), bad, sample("ok2")} {
		if err := l.Log(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.WaitIdle(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
	wantOnce(t, countCalls(t, s), []string{"ok1", "ok2"})
	if st := l.Stats(); st.Rejected != 1 {
		t.Fatalf("stats = %+v; want 1 rejected", st)
	}
}

func TestCloseWithoutRunKeepsRecords(t *testing.T) {
	dir := t.TempDir()
	l, err := New(downSink{}, Options{SpoolDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := l.Log(sample(fmt.Sprint("q", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The next process finds all five in the spool.
	s := openSQLite(t, filepath.Join(t.TempDir(), "h.db"))
	l2, err := New(s, Options{SpoolDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if st := l2.Stats(); st.Spooled != 5 {
		t.Fatalf("spooled %d; want 5", st.Spooled)
	}
	start(t, l2)
	if err := l2.WaitIdle(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
	wantOnce(t, countCalls(t, s), []string{"q0", "q1", "q2", "q3", "q4"})
}

// Entries handed over while an fsync runs share the next one: 50 calls
// finishing at once cost two fsyncs, not 50.
func TestGroupCommitSharesFsync(t *testing.T) {
	l, err := New(nullSink{}, Options{SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer closeNow(t, l)
	l.fileMu.Lock() // holds the flusher before its first write
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := l.Log(sample(fmt.Sprint("g", i))); err != nil {
				t.Error(err)
			}
		})
	}
	if err := l.waitFor(waitCtx(t), func() bool { return l.stats.Queued == n }); err != nil {
		t.Fatal(err)
	}
	l.fileMu.Unlock()
	wg.Wait()
	if st := l.Stats(); st.Syncs < 1 || st.Syncs > 2 || st.Spooled != n {
		t.Fatalf("stats %+v; want %d spooled with at most 2 fsyncs", st, n)
	}
}

// Compaction keeps the marks of calls in progress: a crash after it still
// records them, and the records already in the database are not lost or
// doubled.
func TestCompactionKeepsCallsInProgress(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "h.db"))
	dir := t.TempDir()
	l, err := New(s, Options{SpoolDir: dir, CompactBytes: 4096, BatchSize: 8, FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start(t, l)
	var long []*Mark
	for i := range 3 {
		m, err := l.Begin(sample(fmt.Sprint("long-", i)))
		if err != nil {
			t.Fatal(err)
		}
		long = append(long, m)
	}
	var short []string
	for i := range 200 {
		id := fmt.Sprint("short-", i)
		short = append(short, id)
		m, err := l.Begin(sample(id))
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Finish(m, sample(id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.WaitIdle(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
	wantOnce(t, countCalls(t, s), short)
	fi, err := os.Stat(filepath.Join(dir, SpoolFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 32<<10 {
		t.Fatalf("spool is %d bytes after 200 calls with CompactBytes 4096: not compacted", fi.Size())
	}
	if st := l.Stats(); st.InProgress != 3 {
		t.Fatalf("stats %+v; want 3 calls in progress", st)
	}

	// What a kill -9 now would leave behind.
	crashed := t.TempDir()
	b, err := os.ReadFile(filepath.Join(dir, SpoolFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(crashed, SpoolFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	s2 := openSQLite(t, filepath.Join(t.TempDir(), "h2.db"))
	l2, err := New(s2, Options{SpoolDir: crashed})
	if err != nil {
		t.Fatal(err)
	}
	start(t, l2)
	if err := l2.WaitIdle(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
	if st := l2.Stats(); st.Recovered != 3 {
		t.Fatalf("after the crash: %+v; want the 3 calls in progress recovered", st)
	}
	restarted := 0
	for _, in := range voiceCalls(t, s2) {
		if in.Voice.HangupCause == CauseServerRestart {
			restarted++
			if !strings.HasPrefix(in.Voice.CallID, "long-") {
				t.Errorf("finished call %s recorded as server-restart", in.Voice.CallID)
			}
		}
	}
	if restarted != 3 {
		t.Fatalf("%d server-restart records; want 3", restarted)
	}
	for id, n := range countCalls(t, s2) {
		if n != 1 {
			t.Errorf("%s stored %d times", id, n)
		}
	}

	// Back in the live process the long calls end normally; then nothing
	// is left to keep and the spool is emptied.
	for i, m := range long {
		if err := l.Finish(m, sample(fmt.Sprint("long-", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.WaitIdle(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := l.waitFor(waitCtx(t), func() bool { return l.size == 0 }); err != nil {
		t.Fatalf("spool not emptied: %v (%+v)", err, l.Stats())
	}
	wantOnce(t, countCalls(t, s), append(short, "long-0", "long-1", "long-2"))
}

func TestFinishTwiceAndAfterClose(t *testing.T) {
	l, err := New(nullSink{}, Options{SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	m, err := l.Begin(sample("twice"))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Finish(m, sample("twice")); err != nil {
		t.Fatal(err)
	}
	if err := l.Finish(m, sample("twice")); !errors.Is(err, ErrFinished) {
		t.Fatalf("second Finish = %v; want ErrFinished", err)
	}
	closeNow(t, l)
	if _, err := l.Begin(sample("late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Begin after Close = %v; want ErrClosed", err)
	}
	if err := l.Log(sample("late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Log after Close = %v; want ErrClosed", err)
	}
}

// A spool left by an older Hotline (bare records) is replayed.
func TestLegacySpoolReplayed(t *testing.T) {
	dir := t.TempDir()
	var b []byte
	for _, id := range []string{"old-1", "old-2"} {
		b = append(b, legacyFrame(t, sample(id))...)
	}
	if err := os.WriteFile(filepath.Join(dir, SpoolFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	s := openSQLite(t, filepath.Join(t.TempDir(), "h.db"))
	l, err := New(s, Options{SpoolDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	start(t, l)
	if err := l.WaitIdle(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
	wantOnce(t, countCalls(t, s), []string{"old-1", "old-2"})
}

// A database that hangs mid-write does not hold Shutdown past its context:
// the write is abandoned and the record stays in the spool for next time.
func TestShutdownDoesNotWaitForHungDatabase(t *testing.T) {
	dir := t.TempDir()
	g := &hungSink{entered: make(chan struct{})}
	l, err := New(g, Options{SpoolDir: dir, WriteTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- l.Run(context.Background()) }()
	if err := l.Log(sample("hung")); err != nil {
		t.Fatal(err)
	}
	<-g.entered // the writer is inside LogCalls, which hangs
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	if err := l.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v; want the deadline (records left in the spool)", err)
	}
	if took := time.Since(t0); took > 5*time.Second {
		t.Fatalf("Shutdown took %v with a 200ms context", took)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Run after Shutdown = %v; want nil", err)
	}
	l2, err := New(nullSink{}, Options{SpoolDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer closeNow(t, l2)
	if st := l2.Stats(); st.Spooled != 1 {
		t.Fatalf("next start: %+v; want the record still in the spool", st)
	}
}

// The lifecycle convention: Close stops at once (a hung write abandoned, a
// Shutdown waiting on it ended too), is safe to call again, leaves the
// record in the spool; Run returns nil when its context ends.
func TestCloseStopsAtOnce(t *testing.T) {
	for _, during := range []string{"run", "shutdown"} {
		t.Run("during "+during, func(t *testing.T) {
			dir := t.TempDir()
			g := &hungSink{entered: make(chan struct{})}
			l, err := New(g, Options{SpoolDir: dir, WriteTimeout: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			errc := make(chan error, 1)
			go func() { errc <- l.Run(context.Background()) }()
			if err := l.Log(sample("hung")); err != nil {
				t.Fatal(err)
			}
			<-g.entered
			shut := make(chan error, 1)
			if during == "shutdown" {
				go func() { shut <- l.Shutdown(context.Background()) }() // would wait for ever
				for !l.isClosed() {
					runtime.Gosched() // until Shutdown has begun
				}
			}
			if err := l.Close(); err != nil {
				t.Fatalf("Close = %v", err)
			}
			if err := l.Close(); err != nil {
				t.Fatalf("second Close = %v", err)
			}
			if err := <-errc; err != nil {
				t.Fatalf("Run after Close = %v; want nil", err)
			}
			if during == "shutdown" {
				if err := <-shut; err == nil {
					t.Fatal("Shutdown cut short by Close returned nil; want the records-left error")
				}
			}
			l2, err := New(nullSink{}, Options{SpoolDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			defer closeNow(t, l2)
			if st := l2.Stats(); st.Spooled != 1 {
				t.Fatalf("next start: %+v; want the record still in the spool", st)
			}
		})
	}
	t.Run("run ends with its context", func(t *testing.T) {
		l, err := New(nullSink{}, Options{SpoolDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- l.Run(ctx) }()
		cancel()
		if err := <-errc; err != nil {
			t.Fatalf("Run = %v when its context ended; want nil", err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// hungSink is a database that takes a write and never answers.
type hungSink struct {
	entered chan struct{}
	once    sync.Once
}

func (h *hungSink) LogCalls(ctx context.Context, _ []store.CallRecord) ([]store.LogResult, error) {
	h.once.Do(func() { close(h.entered) })
	<-ctx.Done()
	return nil, ctx.Err()
}
