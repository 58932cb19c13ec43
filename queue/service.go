package queue

import (
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/store"
)

// Config builds a Service.
type Config struct {
	Agents []config.Agent
	Queues map[string]config.Queue
	Ringer Ringer
	Bus    *events.Bus
	Logger *slog.Logger
	Now    func() time.Time
	// TierBoost is how far ahead of its join time a caller of a tier is
	// ranked (aging, see docs/metrics.md): default vip 2m, others 0. A
	// standard caller who has waited longer than the boost goes first.
	TierBoost map[string]time.Duration
	// EWTWindow is the answer-throughput window for EWT; default 15m.
	EWTWindow time.Duration
	// StatsWindow is the sliding stats window; default 30m.
	StatsWindow time.Duration
	// Location is the time zone "today" is computed in; default UTC.
	Location *time.Location
}

func (c *Config) fill() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.TierBoost == nil {
		c.TierBoost = map[string]time.Duration{store.TierVIP: 2 * time.Minute}
	}
	if c.EWTWindow <= 0 {
		c.EWTWindow = 15 * time.Minute
	}
	if c.StatsWindow <= 0 {
		c.StatsWindow = 30 * time.Minute
	}
	if c.Location == nil {
		c.Location = time.UTC
	}
}

type agent struct {
	cfg       config.Agent
	presence  Presence
	reason    string
	activity  Activity
	offer     *offer // set while ringing
	call      string // call ID while on_call / wrap_up
	callQueue string
	talkStart time.Time
	talk      time.Duration
	wrapEnd   time.Time
	idleSince time.Time
	misses    int
	answered  int
}

type entry struct {
	callID, queue, tier, caller string
	joined, vt                  time.Time // vt: virtual join time (joined - tier boost)
	seq                         uint64
	offers                      map[string]*offer
	tried                       map[string]bool
	lastPos                     int
	ticket                      *Ticket
}

type offer struct {
	Offer
	e *entry
	a *agent
}

type queueState struct {
	name    string
	cfg     config.Queue
	waiting []*entry // sorted by (vt, seq)
	byJoin  []*entry // join order (= max-wait deadline order); lazily pruned
	members []*agent // sorted by ID
	rr      int      // round-robin: index of the last agent offered
	// noFree records that the last pick found no eligible agent; it is
	// cleared when a member may have become eligible (agentFreed), so a
	// join into a busy queue costs no scan of its agents.
	noFree  bool
	answers []time.Time
}

type action struct {
	ring   bool
	o      Offer
	reason string
}

// Service is the ACD state machine. It is safe for concurrent use.
type Service struct {
	cfg   Config
	stats *Stats

	mu       sync.Mutex
	agents   map[string]*agent
	queues   map[string]*queueState
	entries  map[string]*entry // waiting callers by call ID
	offers   map[string]*offer // active offers by ID
	oncall   map[string]*agent // connected calls by call ID
	seq      uint64
	outbox   []action
	flushing bool
	wake     chan struct{}
	qorder   []*queueState
}

// New builds a Service; every agent starts logged out and idle.
func New(cfg Config) *Service {
	cfg.fill()
	// config.Load has filled the queue defaults already; a Config built by
	// hand gets them here, in a copy, so every reader sees the same values.
	queues := make(map[string]config.Queue, len(cfg.Queues))
	for name, q := range cfg.Queues {
		queues[name] = q.WithDefaults()
	}
	cfg.Queues = queues
	s := &Service{
		cfg: cfg, agents: map[string]*agent{}, queues: map[string]*queueState{},
		entries: map[string]*entry{}, offers: map[string]*offer{}, oncall: map[string]*agent{},
		wake: make(chan struct{}, 1),
	}
	s.stats = NewStats(cfg.Queues, cfg.Agents, cfg.StatsWindow, cfg.Location)
	for name, q := range cfg.Queues {
		s.queues[name] = &queueState{name: name, cfg: q, rr: -1}
	}
	now := cfg.Now()
	for _, a := range cfg.Agents {
		ag := &agent{cfg: a, presence: LoggedOut, activity: Idle, idleSince: now}
		s.agents[a.ID] = ag
		for q := range a.Queues {
			if qs, ok := s.queues[q]; ok {
				qs.members = append(qs.members, ag)
			}
		}
	}
	for _, q := range s.queues {
		slices.SortFunc(q.members, func(a, b *agent) int { return strings.Compare(a.cfg.ID, b.cfg.ID) })
	}
	return s
}

// Stats is the event-fed metrics view of this service.
func (s *Service) Stats() *Stats { return s.stats }

// emit stamps e with the service clock, feeds the stats and publishes it.
func (s *Service) emit(e events.Event) {
	e.Time = s.cfg.Now()
	s.stats.Apply(e)
	s.cfg.Bus.Publish(e)
}

// unlock releases mu and runs queued Ringer actions in order, outside the
// lock, one drainer at a time (so a Cancel never overtakes its Ring).
func (s *Service) unlock() {
	if s.cfg.Ringer == nil {
		s.outbox = nil
	}
	if !s.flushing {
		s.flushing = true
		for len(s.outbox) > 0 {
			acts := s.outbox
			s.outbox = nil
			s.mu.Unlock()
			for _, a := range acts {
				if a.ring {
					s.cfg.Ringer.Ring(a.o)
				} else {
					s.cfg.Ringer.Cancel(a.o, a.reason)
				}
			}
			s.mu.Lock()
		}
		s.flushing = false
	}
	s.mu.Unlock()
	select { // deadlines may have changed: let Run recompute its timer
	case s.wake <- struct{}{}:
	default:
	}
}

// JoinRequest is a caller entering a queue.
type JoinRequest struct {
	CallID string
	Queue  string
	Tier   string // store.TierVIP, TierStandard, TierNew ("" = standard)
	Caller string // number, for the agent's display
}

// Join puts a caller in a queue. When the caller may not wait (full, or
// nobody logged in and JoinEmpty off) it returns an *ExitError naming the
// exit node; the caller counts as joined and exited.
func (s *Service) Join(r JoinRequest) (*Ticket, error) {
	s.mu.Lock()
	defer s.unlock()
	q, ok := s.queues[r.Queue]
	if !ok {
		return nil, fmt.Errorf("join %q: %w", r.Queue, ErrUnknownQueue)
	}
	if _, dup := s.entries[r.CallID]; dup || s.oncall[r.CallID] != nil || r.CallID == "" {
		return nil, fmt.Errorf("join %q with call %q: %w", r.Queue, r.CallID, ErrDuplicateCall)
	}
	if r.Tier == "" {
		r.Tier = store.TierStandard
	}
	now := s.cfg.Now()
	s.seq++
	e := &entry{callID: r.CallID, queue: r.Queue, tier: r.Tier, caller: r.Caller, joined: now,
		vt: now.Add(-s.cfg.TierBoost[r.Tier]), seq: s.seq, offers: map[string]*offer{},
		tried: map[string]bool{}, ticket: &Ticket{callID: r.CallID, done: make(chan struct{})}}
	s.emit(events.Event{Type: events.QueueJoined, CallID: r.CallID, Queue: r.Queue,
		Data: map[string]any{"tier": r.Tier, "caller": r.Caller}})
	var refuse error
	switch {
	case len(q.waiting) >= q.cfg.MaxLength && q.cfg.MaxLength > 0:
		refuse = ErrQueueFull
	case !q.cfg.JoinEmpty && !q.anyLoggedIn():
		refuse = ErrQueueEmpty
	}
	if refuse != nil {
		reason := ReasonFull
		if refuse == ErrQueueEmpty {
			reason = ReasonEmpty
		}
		s.finish(e, Outcome{Reason: reason, Exit: q.cfg.Exit}, "")
		return nil, &ExitError{Queue: r.Queue, Reason: reason, Exit: q.cfg.Exit, err: refuse}
	}
	i := sort.Search(len(q.waiting), func(i int) bool { return entryLess(e, q.waiting[i]) })
	q.waiting = slices.Insert(q.waiting, i, e)
	q.byJoin = append(q.byJoin, e)
	s.entries[r.CallID] = e
	s.dispatch()
	return e.ticket, nil
}

func entryLess(a, b *entry) bool {
	if !a.vt.Equal(b.vt) {
		return a.vt.Before(b.vt)
	}
	return a.seq < b.seq
}

func (q *queueState) anyLoggedIn() bool {
	for _, a := range q.members {
		if a.presence != LoggedOut {
			return true
		}
	}
	return false
}

// Leave takes a waiting caller out (reason ReasonAbandoned when the caller
// hung up, ReasonTransfer, ...), cancelling any offer ringing for it.
func (s *Service) Leave(callID, reason string) error {
	s.mu.Lock()
	defer s.unlock()
	e, ok := s.entries[callID]
	if !ok {
		return fmt.Errorf("leave %q: %w", callID, ErrUnknownCall)
	}
	s.finish(e, Outcome{Reason: reason}, "caller-left")
	s.dispatch()
	return nil
}

// Key handles a digit pressed while waiting: an exit key makes the caller
// leave for the key's flow node.
func (s *Service) Key(callID, digit string) (string, error) {
	s.mu.Lock()
	defer s.unlock()
	e, ok := s.entries[callID]
	if !ok {
		return "", fmt.Errorf("key %q: %w", callID, ErrUnknownCall)
	}
	node, ok := s.queues[e.queue].cfg.Keys[digit]
	if !ok {
		return "", fmt.Errorf("digit %q in queue %s: %w", digit, e.queue, ErrNoKey)
	}
	s.finish(e, Outcome{Reason: ReasonExitKey, Exit: node}, "caller-left")
	s.dispatch()
	return node, nil
}

// finish removes a waiting entry with an outcome, cancelling its offers.
func (s *Service) finish(e *entry, out Outcome, cancelReason string) {
	now := s.cfg.Now()
	out.Wait = now.Sub(e.joined)
	for _, o := range e.offers {
		s.endOffer(o, ResultCancelled, cancelReason)
	}
	if _, ok := s.entries[e.callID]; ok {
		delete(s.entries, e.callID)
		q := s.queues[e.queue]
		if i, found := slices.BinarySearchFunc(q.waiting, e, func(x, t *entry) int {
			if x == t {
				return 0
			}
			if entryLess(x, t) {
				return -1
			}
			return 1
		}); found {
			q.waiting = slices.Delete(q.waiting, i, i+1)
		}
	}
	data := map[string]any{"reason": out.Reason, "wait_ms": out.Wait.Milliseconds()}
	if out.Exit != "" {
		data["exit"] = out.Exit
	}
	ev := events.Event{Type: events.QueueLeft, CallID: e.callID, Queue: e.queue, Data: data}
	if out.Agent != "" {
		ev.Agent = out.Agent
	}
	s.emit(ev)
	e.ticket.outcome = out
	close(e.ticket.done)
}

func (s *Service) newOfferID() string {
	s.seq++
	return "o" + strconv.FormatUint(s.seq, 10)
}
