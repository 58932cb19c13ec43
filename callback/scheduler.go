package callback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/jobs"
	"github.com/hotline-dev/hotline/outbound"
	"github.com/hotline-dev/hotline/store"
)

// Defaults for zero Config fields.
const (
	DefaultWriteTimeout = 5 * time.Second
	// backoffMin and backoffMax space the retries of a database write
	// that found the database unavailable (as the call log does).
	backoffMin = 250 * time.Millisecond
	backoffMax = 5 * time.Second
	// bootRetry spaces the start's recovery and load while the database
	// is unavailable.
	bootRetry = 2 * time.Second
)

// Config builds a Scheduler. Store, Queues and Dialer are required.
type Config struct {
	Store     store.Callbacks
	Queues    map[string]config.Queue // each queue's callback: block
	Calendars map[string]config.Calendar
	Limits    config.Callbacks // request bounds (defaults filled by config)
	// Policy is the outbound policy: a number it refuses is refused at
	// request time (the Dialer checks again when it dials).
	Policy *outbound.Policy
	ACD    ACD // nil: nothing dials (every due callback waits in its line)
	Dialer Dialer
	Bus    *events.Bus
	Logger *slog.Logger
	// TierBoost is how far ahead of its join time a tier ranks: the
	// queue's own (queue.Config.TierBoost), so a callback sits exactly
	// where the caller would have. Default vip 2m, as the queue's.
	TierBoost map[store.Tier]time.Duration
	// Boot names this process's claims; default a random UUID. Two
	// processes must never share one.
	Boot string
	// RecoveryReason is the reason written on the attempts of earlier
	// processes that the start marks interrupted; default "Hotline stopped
	// during the call". A cluster's new leader says "node-lost": the call
	// died with the node that placed it (docs/cluster.md).
	RecoveryReason string
	// Node, in a cluster, is this node's ID: claims are "<node>/<boot>",
	// and the start recovers only this node's earlier boots' claims; a
	// dead node's are recovered by RecoverNode when it is declared lost.
	// "": every claim but this boot's (one process per database).
	Node string
	// Own, with Node, narrows the claims the start recovers to those
	// starting with it (default "<node>/"): a cluster's lead terms claim
	// "<node>/term/...", and "<node>/dial/..." are calls this node places
	// for a leader (PlaceAssigned), still up when a new term starts here.
	Own string
	// Remote, when set, makes this a scheduler that does not run in this
	// process (a cluster's follower; the leader's runs, docs/cluster.md
	// "Callbacks in a cluster"): it is ready at once, Run loads and dials
	// nothing, and Request, Cancel and Reschedule write the store, then
	// call Remote with the callback's id so that the scheduler that runs
	// loads it (Load). The store's unique index on open (number, queue)
	// keeps racing requests of several nodes to one callback.
	Remote func(ctx context.Context, id int64) error
	// Position, with Remote, is where the scheduler that runs has a
	// waiting callback in its queue's line (1 = next; ok false: not in
	// line, or not known here): a cluster's node reads the leader's from
	// the cluster view. The views of this scheduler show it.
	Position func(queue string, id int64) (pos int, ok bool)
	// Rescan, when set, is how often a running scheduler reads every open
	// callback from the store and takes the waiting ones it does not hold:
	// the safety net for a Load that never came (a cluster's callback
	// command lost after its row was stored). On a Remote scheduler with
	// Node, how often it gives back the claims made for this node whose
	// call never reached it (sweepAssigned). 0: never.
	Rescan time.Duration
	// WriteTimeout bounds each database write; default DefaultWriteTimeout.
	WriteTimeout time.Duration
	// Location is the time zone of "today" in Figures when a queue has
	// no calendar; default UTC.
	Location *time.Location
}

// Scheduler is the callback state machine. It is safe for concurrent use.
// Run it (Run blocks), then Shutdown or Close it.
type Scheduler struct {
	cfg    Config
	log    *slog.Logger
	queues map[string]*settings // configured queues
	limits *limits

	mu      sync.Mutex
	ready   bool
	closing bool // Shutdown or Close: no new request, no new dial
	entries map[int64]*entry
	byPhone map[string]*entry // open callbacks by queue and number (openKey)
	lines   map[string]*line
	timers  timers
	outbox  []notice // to the ACD, in order
	loads   []int64  // callbacks to read from the store (Load)
	// dropped collects the callbacks forgotten while a rescan reads the
	// store (nil otherwise): a row it read before their end was written
	// must not bring them back.
	dropped map[int64]bool

	kick       chan struct{} // the Run loop has something new (buffered 1)
	readyCh    chan struct{}
	done       chan struct{} // closed by Close
	closeOnce  sync.Once
	dialCtx    context.Context // parent of every attempt's call
	dialCancel context.CancelFunc
	dials      sync.WaitGroup  // attempt goroutines (and their writes)
	placing    map[string]bool // claims of the calls PlaceAssigned has up
	orphans    map[string]bool // the last sweep's claims for this node not placed here (sweepAssigned)
	sweepMu    sync.Mutex      // a sweep against a placement's check of its claim
}

// notice is one call to the ACD.
type notice struct {
	offer    *Waiting
	queue    string
	withdraw int64
}

// New checks cfg and builds a Scheduler; it does not start anything.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Store == nil || (cfg.Dialer == nil && cfg.Remote == nil) {
		return nil, errors.New("callback: Config.Store and Config.Dialer (or Remote) are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.TierBoost == nil {
		cfg.TierBoost = map[store.Tier]time.Duration{store.TierVIP: 2 * time.Minute}
	}
	if cfg.Boot == "" {
		cfg.Boot = uuid.NewString()
	}
	if cfg.Node != "" {
		cfg.Boot = cfg.Node + "/" + cfg.Boot
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	s := &Scheduler{cfg: cfg, log: cfg.Logger.With("component", "callback", "boot", cfg.Boot), queues: map[string]*settings{},
		limits: newLimits(cfg.Limits), entries: map[int64]*entry{}, byPhone: map[string]*entry{}, lines: map[string]*line{},
		kick: make(chan struct{}, 1), readyCh: make(chan struct{}), done: make(chan struct{})}
	s.dialCtx, s.dialCancel = context.WithCancel(context.Background())
	names := make([]string, 0, len(cfg.Queues))
	for name := range cfg.Queues {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		set, err := newSettings(name, cfg.Queues[name], cfg.Calendars)
		if err != nil {
			return nil, fmt.Errorf("callback: %w", err)
		}
		s.queues[name] = set
		s.lines[name] = newLine(set)
	}
	if cfg.Remote != nil {
		s.ready = true // nothing to load: the store is read per request
		close(s.readyCh)
	}
	return s, nil
}

// Boot is the id this scheduler's claims carry.
func (s *Scheduler) Boot() string { return s.cfg.Boot }

// Ready is closed once the scheduler has recovered and loaded its
// callbacks; requests before that are ErrNotReady.
func (s *Scheduler) Ready() <-chan struct{} { return s.readyCh }

// Run recovers the claims of earlier processes, loads every open callback
// at its place, and then keeps time: callbacks become due, expire, and
// leave their line when a calendar closes. While the database is
// unavailable at start it retries. It returns nil when ctx ends or the
// scheduler is closed (ctx ending closes it).
func (s *Scheduler) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { _ = s.Close() })
	defer stop()
	if s.cfg.Remote != nil {
		// The scheduler that dials runs elsewhere; a cluster node sweeps
		// the claims made for it that never reached it (sweepAssigned).
		var tick <-chan time.Time
		if s.cfg.Node != "" && s.cfg.Rescan > 0 {
			t := time.NewTicker(s.cfg.Rescan)
			defer t.Stop()
			tick = t.C
		}
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-s.done:
				return nil
			case <-tick:
				s.sweepAssigned(ctx)
			}
		}
	}
	for {
		err := s.boot(ctx)
		if err == nil {
			break
		}
		if s.stopped(ctx) {
			return nil
		}
		s.log.Warn("callback: cannot load callbacks yet; retrying", "err", err, "retry_in", bootRetry)
		if !s.sleep(ctx, bootRetry) {
			return nil
		}
	}
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	scan := time.Now().Add(s.cfg.Rescan)
	for {
		if s.cfg.Rescan > 0 && !time.Now().Before(scan) {
			s.rescan(ctx)
			scan = time.Now().Add(s.cfg.Rescan)
		}
		s.loadPending(ctx)
		s.deliver()
		s.mu.Lock()
		wait := time.Hour
		if next := s.timers.Peek(); next != nil {
			wait = time.Until(next.At)
		}
		if s.cfg.Rescan > 0 {
			wait = min(wait, time.Until(scan))
		}
		s.mu.Unlock()
		t.Reset(max(wait, 0))
		select {
		case <-ctx.Done():
			return nil
		case <-s.done:
			return nil
		case <-t.C:
			s.fire(ctx)
		case <-s.kick:
		}
	}
}

func (s *Scheduler) stopped(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	case <-s.done:
		return true
	default:
		return false
	}
}

// sleep waits d unless the scheduler stops first (false).
func (s *Scheduler) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.done:
		return false
	}
}

// boot marks the calls of earlier processes interrupted, then loads every
// open callback into its line and today's counts.
func (s *Scheduler) boot(ctx context.Context) error {
	now := time.Now()
	wctx, cancel := context.WithTimeout(ctx, 4*s.cfg.WriteTimeout)
	defer cancel()
	recovered, err := s.cfg.Store.RecoverCallbacks(wctx, store.CallbackRecovery{Boot: s.cfg.Boot, At: now, Reason: s.cfg.RecoveryReason,
		Prefix: s.ownPrefix()})
	if err != nil {
		return fmt.Errorf("recover interrupted calls: %w", err)
	}
	for _, cb := range recovered {
		s.log.Warn("callback: a call was cut short by a restart", "callback", cb.ID, "queue", cb.Queue,
			"attempt", cb.Attempts, "state", cb.State)
		if !cb.State.Open() { // cut short twice: it ended here, say so (open ones say so when placed)
			s.mu.Lock()
			s.publish(&entry{cb: cb}, string(cb.State), &Change{Result: store.AttemptInterrupted})
			s.mu.Unlock()
		}
	}
	open, err := s.cfg.Store.OpenCallbacks(wctx)
	if err != nil {
		return err
	}
	// Today's ended callbacks, per distinct day start (one per time zone).
	s.mu.Lock()
	days := map[*line]time.Time{}
	for _, cb := range open {
		s.lineOf(cb.Queue) // lines for queues no longer configured, before counting
	}
	for _, l := range s.lines {
		days[l] = s.dayStart(l, now)
	}
	s.mu.Unlock()
	ended := map[time.Time][]store.CallbackCount{}
	for _, day := range days {
		if _, ok := ended[day]; !ok {
			if ended[day], err = s.cfg.Store.CountCallbacks(wctx, day); err != nil {
				return err
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for l, day := range days {
		l.day = day
	}
	s.entries, s.byPhone = map[int64]*entry{}, map[string]*entry{}
	s.timers.Reset()
	for name, l := range s.lines {
		clear(l.ended)
		l.due, l.inFlight = nil, 0
		for _, c := range ended[l.day] {
			if c.Queue == name {
				l.ended[c.State] += c.N
			}
		}
	}
	for _, cb := range open {
		if cb.State != store.CallbackWaiting {
			// Another process's claims were recovered above; an open claim
			// left here is another live process's (a second node, or a
			// boot id reused): it is not ours to touch.
			if s.cfg.Node != "" && !strings.HasPrefix(cb.ClaimedBy, s.ownPrefix()) {
				// A cluster's other node (an earlier leader), or a call a
				// node places for a leader: its claim is recovered when
				// that node is declared lost or restarts.
				s.log.Warn("callback: a callback is claimed by another node; leaving it until that node is lost or restarts",
					"callback", cb.ID, "claimed_by", cb.ClaimedBy)
				continue
			}
			s.log.Error("callback: a callback is claimed by another process; leaving it alone",
				"callback", cb.ID, "claimed_by", cb.ClaimedBy)
			continue
		}
		s.add(cb)
	}
	// Offer in place order, queue by queue.
	ordered := make([]*entry, 0, len(s.entries))
	for _, e := range s.entries {
		ordered = append(ordered, e)
	}
	sort.Slice(ordered, func(i, j int) bool { return ordered[i].less(ordered[j]) < 0 })
	for _, e := range ordered {
		s.place(e, now)
	}
	for _, l := range s.lines {
		s.armClose(l, now)
	}
	s.ready = true
	close(s.readyCh)
	s.log.Info("callback: scheduler started", "open", len(s.entries), "recovered", len(recovered))
	return nil
}

// lineOf is queue's line, made for a queue no longer configured (its
// callbacks stay until they expire; the ACD does not know the queue).
func (s *Scheduler) lineOf(queue string) *line {
	if l, ok := s.lines[queue]; ok {
		return l
	}
	set, _ := newSettings(queue, config.Queue{}, nil)
	l := newLine(set)
	s.lines[queue] = l
	s.log.Warn("callback: callbacks for a queue that is not configured; they wait until they expire", "queue", queue)
	return l
}

// openKey names a (queue, number): one open callback each.
func openKey(queue, number string) string { return queue + "\x00" + number }

func (s *Scheduler) rankOf(cb store.Callback) time.Time {
	return cb.JoinedAt.Add(-s.cfg.TierBoost[cb.Tier])
}

// dayStart is the start of t's day for l's counts: in its calendar's zone.
func (s *Scheduler) dayStart(l *line, t time.Time) time.Time {
	loc := s.cfg.Location
	if l.set.cal != nil {
		loc = l.set.cal.Location()
	}
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// Shutdown stops new requests and dials, waits for the calls in flight to
// end (and their outcome to be written) or ctx to end, then closes.
func (s *Scheduler) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	idle := make(chan struct{})
	go func() { s.dials.Wait(); close(idle) }() // ends when the calls do, or when Close cuts them
	var err error
	select {
	case <-idle:
	case <-ctx.Done():
		err = ctx.Err()
	}
	return errors.Join(err, s.Close())
}

// Close stops at once: calls in flight are hung up (their attempts end
// interrupted, written if the database answers), Run returns. Safe to call
// more than once.
func (s *Scheduler) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		close(s.done)
		s.dialCancel()
	})
	s.dials.Wait()
	return nil
}

// kickRun wakes the Run loop (a new timer, a notice to deliver).
func (s *Scheduler) kickRun() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// deliver hands the notices to the ACD, in order, outside the lock.
func (s *Scheduler) deliver() {
	s.mu.Lock()
	out := s.outbox
	s.outbox = nil
	s.mu.Unlock()
	if s.cfg.ACD == nil {
		return
	}
	for _, n := range out {
		if n.offer != nil {
			s.cfg.ACD.Offer(*n.offer)
		} else {
			s.cfg.ACD.Withdraw(n.queue, n.withdraw)
		}
	}
}

// write runs one database write bounded by WriteTimeout, not by any
// caller's context: an outcome must be written even when the call that
// produced it was cancelled.
func (s *Scheduler) write(ctx context.Context, f func(ctx context.Context) error) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.WriteTimeout)
	defer cancel()
	return f(wctx)
}

// transient reports store errors worth retrying the same write for.
func transient(err error) bool {
	return errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}

// writeBackoff spaces the retries of a write that found the database
// unavailable (the shared schedule of jobs, without jitter: one process
// retries one write).
var writeBackoff = jobs.Backoff{Min: backoffMin, Max: backoffMax}

func nextBackoff(d time.Duration) time.Duration { return writeBackoff.Next(d) }

// ownPrefix is the prefix of the claims this scheduler's start recovers.
func (s *Scheduler) ownPrefix() string {
	if s.cfg.Own != "" {
		return s.cfg.Own
	}
	return claimPrefix(s.cfg.Node)
}

func claimPrefix(node string) string {
	if node == "" {
		return ""
	}
	return node + "/"
}

// RecoverNode takes the claims of node, declared lost by the cluster (its
// calls died with it): each attempt ends interrupted (Config.RecoveryReason)
// and its callback goes back to its place, dialled once more; one cut short
// before ends failed. The store's conditional update makes it once
// cluster-wide, whoever else recovers at the same time. It returns how many
// callbacks it took.
func (s *Scheduler) RecoverNode(ctx context.Context, node string) (int, error) {
	if node == "" || node == s.cfg.Node {
		return 0, fmt.Errorf("callback: recover node %q: not another node", node)
	}
	select {
	case <-s.readyCh:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	wctx, cancel := context.WithTimeout(ctx, 4*s.cfg.WriteTimeout)
	defer cancel()
	now := time.Now()
	got, err := s.cfg.Store.RecoverCallbacks(wctx, store.CallbackRecovery{Boot: s.cfg.Boot, At: now,
		Reason: s.cfg.RecoveryReason, Prefix: claimPrefix(node)})
	if err != nil {
		return 0, fmt.Errorf("callback: recover node %s's calls: %w", node, err)
	}
	s.mu.Lock()
	for _, cb := range got {
		s.log.Warn("callback: a call died with its node", "callback", cb.ID, "queue", cb.Queue, "node", node,
			"attempt", cb.Attempts, "state", cb.State)
		if _, ok := s.entries[cb.ID]; ok || cb.State != store.CallbackWaiting {
			if !cb.State.Open() {
				s.publish(&entry{cb: cb}, string(cb.State), &Change{Result: store.AttemptInterrupted})
			}
			continue
		}
		s.place(s.add(cb), now)
	}
	s.mu.Unlock()
	s.kickRun()
	return len(got), nil
}

// Load has the scheduler read callback id from the store again: a
// follower's Request, Cancel or Reschedule wrote it (Config.Remote on that
// node), or a restarted node gave back its dead process's claim. A
// callback not in memory is added at its place when it waits; one in
// memory and idle is re-read (it may have been cancelled or moved); one
// being claimed or dialled is left alone (the claim's version check
// settles a race with the other node's write). It does not block: the
// Run loop reads the row.
func (s *Scheduler) Load(id int64) {
	s.mu.Lock()
	s.loads = append(s.loads, id)
	s.mu.Unlock()
	s.kickRun()
}

// rescan takes the waiting callbacks the store has and memory does not
// (Config.Rescan). On the Run loop.
func (s *Scheduler) rescan(ctx context.Context) {
	s.mu.Lock()
	s.dropped = map[int64]bool{}
	s.mu.Unlock()
	var open []store.Callback
	err := s.write(ctx, func(ctx context.Context) (err error) {
		open, err = s.cfg.Store.OpenCallbacks(ctx)
		return err
	})
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	dropped := s.dropped
	s.dropped = nil
	if err != nil {
		s.log.Warn("callback: cannot read the open callbacks; next time", "err", err)
		return
	}
	n := 0
	for _, cb := range open {
		if cb.State != store.CallbackWaiting || s.entries[cb.ID] != nil || dropped[cb.ID] || s.closing {
			continue
		}
		s.place(s.add(cb), now)
		n++
	}
	if n > 0 {
		s.log.Warn("callback: open callbacks found in the store that this scheduler was not told of", "callbacks", n)
	}
}

// loadPending reads the callbacks Load was given. On the Run loop.
func (s *Scheduler) loadPending(ctx context.Context) {
	s.mu.Lock()
	ids := s.loads
	s.loads = nil
	s.mu.Unlock()
	for _, id := range ids {
		now := time.Now()
		s.mu.Lock()
		if e := s.entries[id]; e != nil {
			if !e.busy && e.dial == nil {
				e.suspect = true // resolve re-reads the row
				s.rearm(e, now)
			}
			s.mu.Unlock()
			continue
		}
		s.mu.Unlock()
		var cb *store.Callback
		err := s.write(ctx, func(ctx context.Context) (err error) {
			cb, err = s.cfg.Store.GetCallback(ctx, id)
			return err
		})
		if err != nil {
			// The next start loads it; a request asked again tells us again.
			s.log.Error("callback: cannot load a callback another node wrote", "callback", id, "err", err)
			continue
		}
		s.mu.Lock()
		if s.entries[id] == nil && cb.State == store.CallbackWaiting && !s.closing {
			s.place(s.add(*cb), now)
		}
		s.mu.Unlock()
	}
}
