package calllog

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
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
		if err := l.Close(ctx); err != nil {
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

// countCalls returns how many voice interactions each Call-ID has.
func countCalls(t *testing.T, s store.Store) map[string]int {
	t.Helper()
	got := map[string]int{}
	cur := ""
	for {
		page, next, err := s.ListInteractions(t.Context(), store.InteractionFilter{Channel: store.ChannelVoice}, store.Page{Limit: 500, Cursor: cur})
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range page {
			got[in.Voice.CallID]++
		}
		if cur = next; cur == "" {
			return got
		}
	}
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

func TestQueueFullSpoolsAndKeepsOrder(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "h.db"))
	g := &gateSink{gate: make(chan struct{}), inner: s}
	l, err := New(g, Options{SpoolDir: t.TempDir(), BatchSize: 4, QueueSize: 3})
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
	if st := l.Stats(); st.Spooled == 0 {
		t.Fatalf("nothing spooled with the writer blocked: %+v", st)
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
	// Every record reaches the spool while the database refuses.
	if err := l.waitFor(waitCtx(t), func() bool { return l.pending == 0 && l.spool.count == n }); err != nil {
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

func TestCloseWithoutRunSpoolsQueue(t *testing.T) {
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
	if err := l.Close(t.Context()); err != nil {
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
