package recording_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/recording"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/sqlite"
)

// fakeClock's After fires when the test says (tick), whatever d is.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits chan chan time.Time
	asked []time.Duration
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) After(d time.Duration) (<-chan time.Time, func()) {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	c.asked = append(c.asked, d)
	c.mu.Unlock()
	c.waits <- ch
	return ch, func() {}
}

// tick moves the clock by d and fires the sweeper's wait.
func (c *fakeClock) tick(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case ch := <-c.waits:
		c.mu.Lock()
		c.now = c.now.Add(d)
		now := c.now
		c.mu.Unlock()
		ch <- now
	case <-time.After(30 * time.Second):
		t.Fatal("the sweeper never waited for its next sweep")
	}
}

type rig struct {
	dir   recording.Store
	index store.Recordings
	left  rowCounter // nil for the Dir store
	logs  *syncBuf
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newRig(t *testing.T, im impl) *rig {
	t.Helper()
	s, index, left := im.open(t)
	return &rig{dir: s, index: index, left: left, logs: &syncBuf{}}
}

// add stores a recording made at at in queue (with its file unless noFile).
func (r *rig) add(t *testing.T, id, kind, queue string, at time.Time, noFile bool) {
	t.Helper()
	if !noFile {
		var buf bytes.Buffer
		if err := recording.WriteWAV(&buf, 1, make([]int16, 800)); err != nil {
			t.Fatal(err)
		}
		if _, err := r.dir.Put(t.Context(), recording.Key(id, recording.FormatWAV), &buf); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.index.CreateRecording(t.Context(), &store.Recording{ID: id, CallID: "c-" + id, Kind: kind, Queue: queue,
		Format: recording.FormatWAV, DurationMillis: 100, Size: 1644, CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
}

// gone reports whether id is marked deleted (and when) and its file is gone.
func (r *rig) state(t *testing.T, id string) (deleted *time.Time, file bool) {
	t.Helper()
	rec, err := r.index.GetRecording(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	key := recording.Key(id, recording.FormatWAV)
	_, err = r.dir.Stat(t.Context(), key)
	if err != nil && !errors.Is(err, recording.ErrNotFound) {
		t.Fatal(err)
	}
	file = err == nil
	if r.left != nil && !file && r.left(t, key) != 0 {
		t.Errorf("%s: the audio is gone but %d chunk rows are left", id, r.left(t, key))
	}
	return rec.DeletedAt, file
}

// TestSweepDeletesByQueueRetention: each queue's retention applies to its
// recordings only; voicemail and queues without a retention entry are
// left alone; a recording whose file is already gone is marked all the
// same; each deletion is logged with the rule that applied. On every
// Store: from the database store, the audio's rows go too.
func TestSweepDeletesByQueueRetention(t *testing.T) {
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) { sweepDeletesByQueueRetention(t, newRig(t, im)) })
	}
}

func sweepDeletesByQueueRetention(t *testing.T, r *rig) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	r.add(t, "rec_sales_old", store.RecordingCall, "sales", now.Add(-31*day), false)
	r.add(t, "rec_sales_new", store.RecordingCall, "sales", now.Add(-29*day), false)
	r.add(t, "rec_sales_nofile", store.RecordingCall, "sales", now.Add(-40*day), true)
	r.add(t, "rec_support", store.RecordingCall, "support", now.Add(-2*day), false)
	r.add(t, "rec_vm", store.RecordingVoicemail, "", now.Add(-400*day), false)
	r.add(t, "rec_other", store.RecordingCall, "unlisted", now.Add(-400*day), false)
	s := &recording.Sweeper{Store: r.dir, Index: r.index, Clock: &fakeClock{now: now},
		Retention: map[string]time.Duration{"sales": 30 * day, "support": day},
		Logger:    slog.New(slog.NewJSONHandler(r.logs, nil))}
	n, err := s.Sweep(t.Context())
	if err != nil || n != 3 {
		t.Fatalf("Sweep = %d, %v; want 3 deleted", n, err)
	}
	for _, c := range []struct {
		id      string
		deleted bool
	}{
		{"rec_sales_old", true}, {"rec_sales_nofile", true}, {"rec_support", true},
		{"rec_sales_new", false}, {"rec_vm", false}, {"rec_other", false},
	} {
		del, file := r.state(t, c.id)
		switch {
		case c.deleted && (del == nil || !del.Equal(now) || file):
			t.Errorf("%s: deleted_at %v, file %v; want deleted at %v and no file", c.id, del, file, now)
		case !c.deleted && (del != nil || !file):
			t.Errorf("%s: deleted_at %v, file %v; want kept", c.id, del, file)
		}
	}
	logs := r.logs.String()
	for _, want := range []string{`"recording":"rec_sales_old"`, `"call_id":"c-rec_sales_old"`, `"queue":"sales"`, `"retention":2592000000000000`,
		`"msg":"recording: deleted by retention"`, `"recording":"rec_sales_nofile"`, `"file_already_gone":true`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
	// A second sweep finds nothing more.
	if n, err := s.Sweep(t.Context()); err != nil || n != 0 {
		t.Fatalf("second Sweep = %d, %v", n, err)
	}
}

// TestSweeperRun: Run sweeps at once and then each time its period passes
// (a fake clock), and returns nil when stopped.
func TestSweeperRun(t *testing.T) {
	r := newRig(t, impls[0])
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	r.add(t, "rec_a", store.RecordingCall, "sales", now.Add(-8*day), false)
	r.add(t, "rec_b", store.RecordingCall, "sales", now.Add(-6*day), false)
	clock := &fakeClock{now: now, waits: make(chan chan time.Time, 8)} // buffered: After never blocks Run
	s := &recording.Sweeper{Store: r.dir, Index: r.index, Clock: clock, Every: time.Hour,
		Retention: map[string]time.Duration{"sales": 7 * day}}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	// The first sweep ran before the first wait.
	ch := <-clock.waits
	if del, _ := r.state(t, "rec_a"); del == nil {
		t.Fatal("rec_a not deleted by the first sweep")
	}
	if del, _ := r.state(t, "rec_b"); del != nil {
		t.Fatal("rec_b deleted a day early")
	}
	// A day and a bit later, the next sweep deletes rec_b.
	clock.mu.Lock()
	clock.now = clock.now.Add(day + time.Minute)
	clock.mu.Unlock()
	ch <- clock.Now()
	clock.tick(t, 0) // the second sweep is done once the sweeper waits again
	if del, file := r.state(t, "rec_b"); del == nil || file {
		t.Fatalf("rec_b after the second sweep: deleted_at %v, file %v", del, file)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil when stopped", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return when stopped")
	}
	clock.mu.Lock()
	defer clock.mu.Unlock()
	if clock.asked[0] != time.Hour {
		t.Fatalf("Run waited %v, want its period 1h", clock.asked[0])
	}
}

// TestSweepTwoNodesAtOnce: in a cluster every node sweeps the shared
// database; two sweeps at once both succeed, every expired recording is
// marked once (the first deletion's time stays) and no chunk row is left.
// On the database store on SQLite and PostgreSQL.
func TestSweepTwoNodesAtOnce(t *testing.T) {
	for _, im := range impls[1:] {
		t.Run(im.name, func(t *testing.T) {
			r := newRig(t, im)
			now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
			var ids []string
			for i := range 30 {
				id := fmt.Sprintf("rec_%03d", i)
				r.add(t, id, store.RecordingCall, "sales", now.Add(-48*time.Hour), false)
				ids = append(ids, id)
			}
			sweep := func() *recording.Sweeper {
				return &recording.Sweeper{Store: r.dir, Index: r.index, Clock: &fakeClock{now: now},
					Retention: map[string]time.Duration{"sales": 24 * time.Hour}}
			}
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for n := range 2 {
				wg.Go(func() { _, errs[n] = sweep().Sweep(t.Context()) })
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatalf("sweeps: %v", err)
			}
			for _, id := range ids {
				if del, file := r.state(t, id); del == nil || !del.Equal(now) || file {
					t.Errorf("%s: deleted_at %v, audio %v", id, del, file)
				}
			}
		})
	}
}

// The sweep also removes the audio chunks a crashed Put left in the
// database store (old, named by no object), through the Fallback the
// server wraps it in, and says so in the log.
func TestSweepDeletesOrphanedAudio(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "h.db"), store.Options{DefaultCountry: "VN"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	spool, err := recording.NewDir(filepath.Join(t.TempDir(), "spool"))
	if err != nil {
		t.Fatal(err)
	}
	crashed := time.Now().Add(-7*time.Hour).UnixMilli() << 20
	if err := db.Conn().Exec(t.Context(), `INSERT INTO recording_audio_chunks (key, generation, seq, data) VALUES ('rec_x.wav', $1, 0, $2)`,
		crashed, []byte{1}); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuf{}
	s := &recording.Sweeper{Store: &recording.Fallback{Primary: recording.NewDatabase(db), Spool: spool, Index: db}, Index: db,
		Logger: slog.New(slog.NewJSONHandler(logs, nil))}
	if _, err := s.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.Conn().QueryRow(t.Context(), `SELECT count(*) FROM recording_audio_chunks`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("chunks after the sweep: %d, %v; want 0", n, err)
	}
	if got := logs.String(); !strings.Contains(got, `"msg":"recording: deleted audio chunks a crashed write left","chunks":1`) {
		t.Fatalf("log: %s", got)
	}
}
