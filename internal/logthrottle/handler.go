// Package logthrottle is a log/slog handler that rate-limits repeated lines:
// a flood of bad packets must not become a flood of log (one ERROR line per
// spoofed datagram made 40 MB of log, issue 8). Records are grouped by level
// and message; the first Burst of a group per Interval pass, the rest are
// counted, and one summary line per group and interval reports how many were
// left out.
package logthrottle

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Options tune the handler. Zero values take the defaults.
type Options struct {
	Burst    int           // records of one group passed per interval; default 5
	Interval time.Duration // default 10s
	Now      func() time.Time
}

// maxGroups bounds the groups tracked; records of further groups pass.
const maxGroups = 1024

type key struct {
	level slog.Level
	msg   string
}

type group struct {
	start      time.Time
	passed     int
	suppressed int
	via        slog.Handler // handler of the last suppressed record, for its attributes
}

type state struct {
	opts      Options
	mu        sync.Mutex
	groups    map[key]*group
	nextFlush time.Time
}

// Handler wraps another handler.
type Handler struct {
	next slog.Handler
	st   *state
}

// New wraps next.
func New(next slog.Handler, o Options) *Handler {
	if o.Burst <= 0 {
		o.Burst = 5
	}
	if o.Interval <= 0 {
		o.Interval = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Handler{next: next, st: &state{opts: o, groups: map[key]*group{}}}
}

// Enabled defers to the wrapped handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// WithAttrs and WithGroup share the counters: the same message logged
// through loggers with different attributes is one group.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &Handler{next: h.next.WithAttrs(as), st: h.st}
}

// WithGroup: see WithAttrs.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), st: h.st}
}

// Handle passes r unless its group has used its burst in this interval.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	now := h.st.opts.Now()
	summaries := h.st.due(now)
	pass := h.st.admit(key{r.Level, r.Message}, now, h.next)
	for _, s := range summaries {
		_ = s.via.Handle(ctx, s.record)
	}
	if !pass {
		return nil
	}
	return h.next.Handle(ctx, r)
}

// Flush writes the pending summaries now (at shutdown).
func (h *Handler) Flush(ctx context.Context) {
	for _, s := range h.st.due(time.Time{}) {
		_ = s.via.Handle(ctx, s.record)
	}
}

type summary struct {
	via    slog.Handler
	record slog.Record
}

func (st *state) admit(k key, now time.Time, via slog.Handler) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	g, ok := st.groups[k]
	if !ok {
		if len(st.groups) >= maxGroups {
			for k, g := range st.groups { // forget quiet groups whose interval ended
				if g.suppressed == 0 && now.Sub(g.start) >= st.opts.Interval {
					delete(st.groups, k)
				}
			}
		}
		if len(st.groups) >= maxGroups {
			return true
		}
		g = &group{start: now}
		st.groups[k] = g
	}
	if now.Sub(g.start) >= st.opts.Interval {
		g.start, g.passed = now, 0
	}
	if g.passed < st.opts.Burst {
		g.passed++
		return true
	}
	g.suppressed++
	g.via = via
	if st.nextFlush.IsZero() || g.start.Add(st.opts.Interval).Before(st.nextFlush) {
		st.nextFlush = g.start.Add(st.opts.Interval)
	}
	return false
}

// due collects the summaries of groups whose interval ended by now (all of
// them when now is zero) and forgets idle groups.
func (st *state) due(now time.Time) []summary {
	st.mu.Lock()
	defer st.mu.Unlock()
	flushAll := now.IsZero()
	if !flushAll && (st.nextFlush.IsZero() || now.Before(st.nextFlush)) {
		return nil
	}
	st.nextFlush = time.Time{}
	var out []summary
	for k, g := range st.groups {
		end := g.start.Add(st.opts.Interval)
		if !flushAll && now.Before(end) {
			if g.suppressed > 0 && (st.nextFlush.IsZero() || end.Before(st.nextFlush)) {
				st.nextFlush = end
			}
			continue
		}
		if g.suppressed > 0 {
			r := slog.NewRecord(st.opts.Now(), k.level, k.msg, 0)
			r.AddAttrs(slog.Int("suppressed", g.suppressed), slog.Duration("interval", st.opts.Interval))
			out = append(out, summary{via: g.via, record: r})
		}
		delete(st.groups, k)
	}
	return out
}
