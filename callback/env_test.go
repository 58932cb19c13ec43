package callback_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/callback/callbacktest"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/outbound"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/sqlite"
)

// The tests run in synctest bubbles, whose clock starts on Saturday
// 2000-01-01 00:00 UTC. The office calendar is UTC, Monday to Friday
// 08:00-17:30.
var (
	monday9 = time.Date(2000, 1, 3, 9, 0, 0, 0, time.UTC)
	office  = config.Calendar{TimeZone: "UTC", Hours: map[string][]string{
		"mon": {"08:00-17:30"}, "tue": {"08:00-17:30"}, "wed": {"08:00-17:30"}, "thu": {"08:00-17:30"}, "fri": {"08:00-17:30"}}}
)

// flaky wraps a store: while down, every callback write fails as if the
// database did not answer.
type flaky struct {
	store.Store
	cbs  store.Callbacks
	down atomic.Bool
	// afterOpen, when set (onOpen), runs once after OpenCallbacks has
	// read the rows and before they are returned (a write racing the read).
	afterOpen func()
	// writes counts the writes that went through, by method.
	mu     sync.Mutex
	writes map[string]int
}

var errDown = errors.Join(store.ErrUnavailable, errors.New("test: database down"))

func (f *flaky) gate(name string) error {
	if f.down.Load() {
		return errDown
	}
	f.mu.Lock()
	f.writes[name]++
	f.mu.Unlock()
	return nil
}

func (f *flaky) RequestCallback(ctx context.Context, r store.CallbackRequest) (store.Callback, error) {
	if err := f.gate("request"); err != nil {
		return store.Callback{}, err
	}
	return f.cbs.RequestCallback(ctx, r)
}
func (f *flaky) GetCallback(ctx context.Context, id int64) (*store.Callback, error) {
	if f.down.Load() {
		return nil, errDown
	}
	return f.cbs.GetCallback(ctx, id)
}
func (f *flaky) ListCallbacks(ctx context.Context, fl store.CallbackFilter, p store.Page) ([]store.Callback, string, error) {
	return f.cbs.ListCallbacks(ctx, fl, p)
}
func (f *flaky) OpenCallbacks(ctx context.Context) ([]store.Callback, error) {
	if f.down.Load() {
		return nil, errDown
	}
	open, err := f.cbs.OpenCallbacks(ctx)
	f.mu.Lock()
	after := f.afterOpen
	f.afterOpen = nil
	f.mu.Unlock()
	if after != nil {
		after()
	}
	return open, err
}

// onOpen sets afterOpen.
func (f *flaky) onOpen(fn func()) {
	f.mu.Lock()
	f.afterOpen = fn
	f.mu.Unlock()
}
func (f *flaky) ClaimCallback(ctx context.Context, c store.CallbackClaim) (store.Callback, error) {
	if err := f.gate("claim"); err != nil {
		return store.Callback{}, err
	}
	return f.cbs.ClaimCallback(ctx, c)
}
func (f *flaky) ConnectCallback(ctx context.Context, c store.CallbackConnect) (store.Callback, error) {
	if err := f.gate("connect"); err != nil {
		return store.Callback{}, err
	}
	return f.cbs.ConnectCallback(ctx, c)
}
func (f *flaky) FinishCallback(ctx context.Context, fi store.CallbackFinish) (store.Callback, error) {
	if err := f.gate("finish"); err != nil {
		return store.Callback{}, err
	}
	return f.cbs.FinishCallback(ctx, fi)
}
func (f *flaky) ChangeCallback(ctx context.Context, c store.CallbackChange) (store.Callback, error) {
	if err := f.gate("change"); err != nil {
		return store.Callback{}, err
	}
	return f.cbs.ChangeCallback(ctx, c)
}
func (f *flaky) RecoverCallbacks(ctx context.Context, r store.CallbackRecovery) ([]store.Callback, error) {
	if err := f.gate("recover"); err != nil {
		return nil, err
	}
	return f.cbs.RecoverCallbacks(ctx, r)
}
func (f *flaky) OldestCallbacks(ctx context.Context, at time.Time) ([]store.Callback, error) {
	if f.down.Load() {
		return nil, errDown
	}
	return f.cbs.OldestCallbacks(ctx, at)
}
func (f *flaky) CountCallbacks(ctx context.Context, since time.Time) ([]store.CallbackCount, error) {
	if f.down.Load() {
		return nil, errDown
	}
	return f.cbs.CountCallbacks(ctx, since)
}

// env is one scheduler over a real SQLite store, with the fakes.
type env struct {
	t      *testing.T
	path   string
	db     store.Store
	st     *flaky
	s      *callback.Scheduler
	acd    *callbacktest.ACD
	dialer *callbacktest.Dialer
	bus    *events.Bus
	sub    *events.Subscription
	cfg    callback.Config
	run    chan error
}

func queues(edit func(q *config.QueueCallback)) map[string]config.Queue {
	out := map[string]config.Queue{}
	for _, name := range []string{"technical", "sales", "billing"} {
		cb := config.QueueCallback{Enabled: true, Calendar: "office", MaxAttempts: 3,
			RetrySpacing: []time.Duration{5 * time.Minute, 15 * time.Minute}, Expiry: 24 * time.Hour}
		if edit != nil {
			edit(&cb)
		}
		out[name] = config.Queue{Callback: cb.WithDefaults()}
	}
	return out
}

func policy(t *testing.T) *outbound.Policy {
	t.Helper()
	p, err := outbound.New(outbound.Config{Allow: config.Allow{Numbers: []string{"+849*", "+848*"}}, DefaultCountry: "VN"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newEnv opens a store and starts a scheduler inside the running bubble,
// with every queue's callback block edited by edit; the cleanup closes
// both.
func newEnv(t *testing.T, edit func(c *callback.Config)) *env {
	t.Helper()
	e := &env{t: t, path: filepath.Join(t.TempDir(), "hotline.db"), bus: events.NewBus()}
	db, err := sqlite.Open(t.Context(), e.path, store.Options{DefaultCountry: "VN"})
	if err != nil {
		t.Fatal(err)
	}
	e.db = db
	t.Cleanup(func() { _ = db.Close() })
	e.sub = e.bus.Subscribe(100000)
	t.Cleanup(e.sub.Close)
	e.cfg = callback.Config{Queues: queues(nil), Calendars: map[string]config.Calendar{"office": office},
		Limits: config.Callbacks{PerNumber: -1, PerSource: -1, Total: -1}, Policy: policy(t), Bus: e.bus}
	if edit != nil {
		edit(&e.cfg)
	}
	e.start()
	return e
}

// start runs a new scheduler (a new boot) on the env's database.
func (e *env) start() {
	e.t.Helper()
	e.st = &flaky{Store: e.db, cbs: e.db.(store.Callbacks), writes: map[string]int{}}
	e.acd = callbacktest.NewACD()
	e.dialer = callbacktest.NewDialer(10000)
	cfg := e.cfg
	cfg.Store, cfg.ACD, cfg.Dialer, cfg.Boot = e.st, e.acd, e.dialer, ""
	s, err := callback.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.s = s
	e.run = make(chan error, 1)
	go func() { e.run <- s.Run(context.Background()) }()
	e.t.Cleanup(func() { e.stop() })
	synctest.Wait()
	select {
	case <-s.Ready():
	default:
		e.t.Fatal("scheduler not ready after start")
	}
}

// stop closes the scheduler and waits for Run.
func (e *env) stop() {
	if e.s == nil {
		return
	}
	_ = e.s.Close()
	if err := <-e.run; err != nil {
		e.t.Errorf("Run: %v", err)
	}
	e.s = nil
}

// crash stops the scheduler the way kill -9 does as far as the database
// sees it: nothing more is written (the calls in flight stay claimed).
func (e *env) crash() {
	e.st.down.Store(true)
	e.stop()
	e.st.down.Store(false)
}

// at moves the bubble's clock to t (forward only) and lets everything run.
func at(t time.Time) {
	if d := time.Until(t); d > 0 {
		time.Sleep(d)
	}
	synctest.Wait()
}

// request asks for a virtual-hold callback in queue for number, joined at joined.
func (e *env) request(queue, number string, joined time.Time, tier store.Tier) callback.Callback {
	e.t.Helper()
	cb, err := e.s.Request(e.t.Context(), callback.Request{Source: store.SourceVirtualHold, Queue: queue, Number: number,
		Caller: number, CallID: "call-" + number + "-" + queue, FromTag: "ft", JoinedAt: joined, Tier: tier, Category: queue})
	if err != nil {
		e.t.Fatalf("request %s %s: %v", queue, number, err)
	}
	synctest.Wait()
	return cb
}

func (e *env) call() *callbacktest.Call { e.t.Helper(); return e.dialer.Next(e.t) }

func (e *env) noCall() { e.t.Helper(); e.dialer.None(e.t) }

// get reads callback id from the database.
func (e *env) get(id int64) *store.Callback {
	e.t.Helper()
	cb, err := e.db.(store.Callbacks).GetCallback(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return cb
}

// events drains the bus: the callback events so far, as "status id".
func (e *env) events() []callback.Change {
	var out []callback.Change
	for {
		select {
		case ev := <-e.sub.C:
			if c, ok := ev.Payload.(callback.Change); ok {
				if ev.Type != "callback."+c.Status {
					e.t.Fatalf("event type %s with payload status %s", ev.Type, c.Status)
				}
				out = append(out, c)
			}
		default:
			return out
		}
	}
}

func statuses(cs []callback.Change, id int64) []string {
	var out []string
	for _, c := range cs {
		if c.ID == id {
			out = append(out, c.Status)
		}
	}
	return out
}
