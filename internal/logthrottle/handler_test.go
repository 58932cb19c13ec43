package logthrottle

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"
)

type recorder struct {
	mu  sync.Mutex
	got []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, rec)
	return nil
}

func TestThrottleBurstThenSummary(t *testing.T) {
	now := time.Unix(0, 0)
	rec := &recorder{}
	log := slog.New(New(rec, Options{Burst: 3, Interval: 10 * time.Second, Now: func() time.Time { return now }}))
	for i := range 1000 {
		log.With("caller", "x").Error("failed to parse", "i", i)
	}
	log.Info("other line") // another group passes
	if len(rec.got) != 4 {
		t.Fatalf("%d records passed, want 3 + 1", len(rec.got))
	}
	now = now.Add(11 * time.Second)
	log.Error("failed to parse", "i", 1000) // next interval: summary first, then it passes
	if len(rec.got) != 6 {
		t.Fatalf("%d records, want a summary and the new line", len(rec.got))
	}
	sum := rec.got[4]
	var suppressed int64
	sum.Attrs(func(a slog.Attr) bool {
		if a.Key == "suppressed" {
			suppressed = a.Value.Int64()
		}
		return true
	})
	if sum.Message != "failed to parse" || suppressed != 997 || sum.Level != slog.LevelError {
		t.Errorf("summary %q level %v suppressed %d, want 997", sum.Message, sum.Level, suppressed)
	}
}

func TestThrottleFlush(t *testing.T) {
	rec := &recorder{}
	h := New(rec, Options{Burst: 1})
	log := slog.New(h)
	log.Warn("refused")
	log.Warn("refused")
	h.Flush(context.Background())
	if len(rec.got) != 2 {
		t.Fatalf("%d records, want the first and a summary", len(rec.got))
	}
}
