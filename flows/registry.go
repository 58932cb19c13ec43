package flows

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotline-dev/hotline/media"
)

// DefaultPollInterval is how often Watch looks at the flow directory.
const DefaultPollInterval = 2 * time.Second

// Registry serves the current set of flows and replaces it on Reload. A call
// keeps the *Flow it started with: a reload never changes a loaded Flow.
type Registry struct {
	dir     string
	env     Env
	logger  *slog.Logger
	prompts *media.Library // reloaded with the flows; nil: env.Prompts as given

	current  atomic.Pointer[Set]
	loaded   atomic.Uint64 // reloads that replaced the set (the first load too)
	rejected atomic.Uint64 // reloads refused: the set in service stayed
	mu       sync.Mutex    // one reload at a time
	seen     string        // fingerprint of the files last tried (guarded by mu)
	onLoad   func(*Set)    // after each accepted reload (guarded by mu)
}

// NewRegistry returns a registry over dir; call Reload to load it.
func NewRegistry(dir string, env Env, logger *slog.Logger) *Registry {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Registry{dir: dir, env: env, logger: logger}
}

// WithPrompts makes every reload (the first too) read lib's directory
// again with the flows: a reload is accepted only when every prompt file is
// usable and the flows check against the new prompts, and then both are
// swapped in (lib.Replace); otherwise the flows and prompts in service stay.
// Call it before the first Reload.
func (r *Registry) WithPrompts(lib *media.Library) *Registry {
	r.prompts = lib
	return r
}

// OnLoad has fn called with the new set after every reload that replaces
// the set in service, from the reloading goroutine (so fn must not block:
// the text-to-speech warm-up starts its work in the background).
func (r *Registry) OnLoad(fn func(*Set)) {
	r.mu.Lock()
	r.onLoad = fn
	r.mu.Unlock()
}

// Current returns the set in service (nil before the first good load).
func (r *Registry) Current() *Set { return r.current.Load() }

// ByNumber finds the flow for a dialled number in the current set.
func (r *Registry) ByNumber(called string) (*Flow, bool) { return r.Current().ByNumber(called) }

// Reload reads and checks the directory. With no errors the new set
// replaces the current one; otherwise the current set keeps serving and the
// error wraps ErrRejected (and ErrNoFlows when no flow file is left).
// Problems (warnings too) are returned and logged here, once each: callers
// need not log them again.
func (r *Registry) Reload() ([]Problem, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	files, err := readDir(r.dir)
	if err != nil {
		r.rejected.Add(1)
		r.logger.Error("flows: reload failed, previous flows keep serving", "dir", r.dir, "err", err)
		return nil, err
	}
	return r.load(files)
}

// Reloads counts the reloads (by Reload or Watch) that replaced the set and
// those refused, since the registry was made (metrics).
func (r *Registry) Reloads() (loaded, rejected uint64) { return r.loaded.Load(), r.rejected.Load() }

func (r *Registry) stamp(files []file) string {
	s := fingerprint(files)
	if r.prompts != nil {
		s += " " + r.prompts.Stamp()
	}
	return s
}

func (r *Registry) load(files []file) ([]Problem, error) {
	r.seen = r.stamp(files)
	set, staged, ps := loadAll(r.dir, files, r.env, r.prompts)
	for _, p := range ps {
		lvl := slog.LevelWarn
		if p.Severity == Error {
			lvl = slog.LevelError
		}
		attrs := []any{"file", p.File, "line", p.Line}
		if p.Column > 0 {
			attrs = append(attrs, "column", p.Column)
		}
		if p.Node != "" {
			attrs = append(attrs, "node", p.Node)
		}
		prefix := "flows: "
		if r.prompts != nil && p.Line == 0 && strings.HasPrefix(p.File, r.prompts.Dir()) {
			prefix = "prompts: " // a prompt file's problem, not a flow's
		}
		r.logger.Log(context.Background(), lvl, prefix+p.Message, attrs...)
	}
	if len(files) == 0 {
		r.rejected.Add(1)
		r.logger.Error("flows: reload rejected: no flow files, previous flows keep serving", "dir", r.dir, "serving", r.Current().Version())
		return ps, fmt.Errorf("%w: %w in %s (*.yaml, *.yml)", ErrRejected, ErrNoFlows, r.dir)
	}
	if errs, _ := Count(ps); errs > 0 {
		r.rejected.Add(1)
		r.logger.Error("flows: reload rejected, previous flows keep serving", "dir", r.dir, "errors", errs, "serving", r.Current().Version())
		if r.prompts != nil {
			return ps, fmt.Errorf("%w: %d error(s) in %s or %s", ErrRejected, errs, r.dir, r.prompts.Dir())
		}
		return ps, fmt.Errorf("%w: %d error(s) in %s", ErrRejected, errs, r.dir)
	}
	if r.prompts != nil {
		// Prompts first: the new flows may name prompts only they have.
		r.prompts.Replace(staged)
	}
	r.current.Store(set)
	r.loaded.Add(1)
	r.logger.Info("flows: loaded", "dir", r.dir, "flows", len(set.Flows()), "version", set.Version())
	if r.onLoad != nil {
		r.onLoad(set)
	}
	return ps, nil
}

// Watch polls the directory every DefaultPollInterval and reloads when the
// content of its flow files (or, with WithPrompts, the names, sizes or
// times of the prompt files) changes, until ctx is done. It returns nil then.
func (r *Registry) Watch(ctx context.Context) error {
	return r.WatchEvery(ctx, DefaultPollInterval)
}

// WatchEvery is Watch with a chosen poll interval.
func (r *Registry) WatchEvery(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		every = DefaultPollInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			r.poll()
		}
	}
}

// poll reloads when the files differ from the last ones tried, so a broken
// file is reported once, not on every tick.
func (r *Registry) poll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	files, err := readDir(r.dir)
	if err != nil {
		if r.seen != "unreadable" {
			r.logger.Error("flows: watch cannot read directory", "dir", r.dir, "err", err)
			r.seen = "unreadable"
		}
		return
	}
	if r.stamp(files) == r.seen {
		return
	}
	_, _ = r.load(files)
}
