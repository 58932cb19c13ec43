package queue

import (
	"fmt"
	"log/slog"
	"slices"
	"strconv"
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
	TierBoost map[store.Tier]time.Duration
	// EWTWindow is the answer-throughput window for EWT; default 15m.
	EWTWindow time.Duration
	// StatsWindow is the sliding stats window; default 30m.
	StatsWindow time.Duration
	// Location is the time zone "today" is computed in; default UTC.
	Location *time.Location
	// State, when set, receives agents' presence and the statistics
	// records as they change, to be kept across a restart (Restore).
	State StateSink
	// Callbacks, when set, is told when a callback entry's turn comes
	// (callbacks.go): called outside the service's lock, in order.
	Callbacks CallbackHook
}

// StateSink keeps the ACD's live state (runstate.Writer). Its methods must
// not block: they are called with the service's lock held.
type StateSink interface {
	SaveAgent(store.AgentState)
	Rec(store.QueueRec)
}

func (c *Config) fill() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.TierBoost == nil {
		c.TierBoost = map[store.Tier]time.Duration{store.TierVIP: 2 * time.Minute}
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
	cfg config.Agent
	// queues is the agent's membership now (queue → penalty): cfg.Queues
	// until a run-time change (members.go) or Restore replaces it. It is
	// replaced whole, never changed in place: AgentInfo hands it out.
	queues    map[string]int
	custom    bool // queues differs from cfg.Queues: kept as store.AgentState.Queues
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
	// caller is the number of the caller of call (set on answer).
	caller string
	// state and stateSince: the agent's one state (agentState) as
	// agent.state last published it, and since when.
	state      string
	stateSince time.Time
	misses     int
	answered   int
	// holds is the key of the callback the agent is held by: reserved for
	// it, on its agent-first call, or talking with its confirmed customer
	// (pacing counts these as the callbacks' agents).
	holds      string
	holdsQueue string
	saved      store.AgentState // the state last given to Config.State
}

type entry struct {
	callID, queue, caller string
	tier                  store.Tier
	joined, vt            time.Time // vt: virtual join time (placed - tier boost)
	// placed is the join time the entry is ranked by: joined for a
	// caller, the original join time for a callback or a rejoined one.
	placed time.Time
	seq    uint64
	// cb is set for a callback's placeholder (callbacks.go); rejoin is a
	// confirmed callback customer's key (a live caller at its place).
	cb      *cbEntry
	rejoin  string
	offers  map[string]*offer
	tried   map[string]bool
	lastPos int
	place   *Place
}

type offer struct {
	Offer
	e    *entry
	a    *agent
	rang time.Time // when it started ringing
}

type queueState struct {
	name    string
	cfg     config.Queue
	waiting line     // sorted by entryLess (order.go)
	byJoin  []*entry // join order (= max-wait deadline order); lazily pruned
	members []*agent // sorted by ID
	ncb     int      // callback entries in waiting
	// freed counts the times an agent of the queue may have become free
	// (agentFreed): a callback whose dial was refused waits for the next.
	freed uint64
	rr    int // round-robin: index of the last agent offered
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
	due    *CallbackDue // a callback's turn: to Config.Callbacks
}

// Service is the ACD state machine. It is safe for concurrent use.
type Service struct {
	cfg   Config
	stats *Stats

	mu       sync.Mutex
	agents   map[string]*agent
	queues   map[string]*queueState
	entries  map[string]*entry // waiting callers by call ID
	cbs      map[string]*entry // callback entries by key (callbacks.go)
	offers   map[string]*offer // active offers by ID
	oncall   map[string]*agent // connected calls by call ID
	seq      uint64
	outbox   []action
	flushing bool
	wake     chan struct{}
	qorder   []*queueState
	alerts   alertBook // wallboard alerts in force (alerts.go); its own locks
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
		entries: map[string]*entry{}, cbs: map[string]*entry{}, offers: map[string]*offer{}, oncall: map[string]*agent{},
		wake: make(chan struct{}, 1),
	}
	s.stats = NewStats(cfg.Queues, cfg.Agents, cfg.StatsWindow, cfg.Location)
	if cfg.State != nil {
		s.stats.sink = cfg.State.Rec
	}
	for name, q := range cfg.Queues {
		s.queues[name] = &queueState{name: name, cfg: q, rr: -1}
	}
	now := cfg.Now()
	for _, a := range cfg.Agents {
		ag := &agent{cfg: a, queues: a.Queues, presence: LoggedOut, activity: Idle, idleSince: now, stateSince: now}
		ag.state = ag.agentState()
		s.agents[a.ID] = ag
		for q := range a.Queues {
			if qs, ok := s.queues[q]; ok {
				qs.members = append(qs.members, ag)
			}
		}
	}
	for _, q := range s.queues {
		slices.SortFunc(q.members, byID)
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
	if !s.flushing {
		s.flushing = true
		for len(s.outbox) > 0 {
			acts := s.outbox
			s.outbox = nil
			s.mu.Unlock()
			for _, a := range acts {
				switch {
				case a.due != nil:
					if s.cfg.Callbacks != nil {
						s.cfg.Callbacks.Due(*a.due)
					}
				case s.cfg.Ringer == nil:
				case a.ring:
					s.cfg.Ringer.Ring(a.o)
				default:
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
	Tier   store.Tier // "" = standard
	Caller string     // number, for the agent's display
	// JoinedAt, when set, is the place the caller takes instead of now:
	// a confirmed callback customer keeps their original join time
	// (ranked at JoinedAt less the tier's boost). Waiting is still timed
	// (MaxWait, the wait reported) from the real join.
	JoinedAt time.Time
	// Reservation is the callback key ("callback:42") the caller stands
	// for: the caller takes that callback entry's place and is offered
	// first to the agent reserved for it (callbacks.go). Neither the
	// queue's MaxLength nor JoinEmpty refuses them.
	Reservation string
	// Resume is a caller the ACD had admitted already, coming back into
	// a rebuilt Service (a new cluster leader, docs/cluster.md) with what
	// the old one knew of them (ExportEntry; resume.go): neither MaxLength
	// nor JoinEmpty refuses them, as neither would have sent them out of
	// the queue they were waiting in; MaxWait and the wait count from
	// their real join; agents who missed them are tried last again; the
	// statistics do not count them again. Nobody is offered anything
	// until Resumed: the callers ahead of them may not be back yet.
	Resume *EntrySnapshot
}

// Join puts a caller in a queue. When the caller may not wait (full, or
// nobody logged in and JoinEmpty off) it returns an *ExitError naming the
// exit node; the caller counts as joined and exited.
func (s *Service) Join(r JoinRequest) (*Place, error) {
	s.mu.Lock()
	defer s.unlock()
	q, ok := s.queues[r.Queue]
	if !ok {
		return nil, fmt.Errorf("join %q: %w", r.Queue, ErrUnknownQueue)
	}
	if _, dup := s.entries[r.CallID]; dup || s.oncall[r.CallID] != nil || s.cbs[r.CallID] != nil || r.CallID == "" {
		return nil, fmt.Errorf("join %q with call %q: %w", r.Queue, r.CallID, ErrDuplicateCall)
	}
	if r.Tier == "" {
		r.Tier = store.TierStandard
	}
	now := s.cfg.Now()
	placed := now
	if !r.JoinedAt.IsZero() {
		placed = r.JoinedAt
	}
	s.seq++
	e := &entry{callID: r.CallID, queue: r.Queue, tier: r.Tier, caller: r.Caller, joined: now, placed: placed,
		vt: placed.Add(-s.cfg.TierBoost[r.Tier]), seq: s.seq, rejoin: r.Reservation, offers: map[string]*offer{},
		tried: map[string]bool{}, place: &Place{callID: r.CallID, done: make(chan struct{})}}
	joined := Joined{Callback: r.Reservation, Caller: r.Caller, Tier: r.Tier}
	if r.Resume != nil {
		q.resumeEntry(e, r.Resume, now)
		joined.Resumed = e.joined
	}
	s.emit(events.Event{Type: events.QueueJoined, CallID: r.CallID, Queue: r.Queue, Payload: joined})
	var refuse error
	switch {
	case r.Reservation != "" || r.Resume != nil: // the callback held this place, or the caller had it: it is theirs
	case q.live() >= q.cfg.MaxLength && q.cfg.MaxLength > 0:
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
	if r.Resume == nil { // resumeEntry put it at its join time
		q.byJoin = append(q.byJoin, e)
	}
	s.entries[r.CallID] = e
	if cb := s.cbs[r.Reservation]; cb != nil && cb.queue == r.Queue && cb.cb.state != cbAnswered {
		s.takeReservation(q, cb, e)
	} else {
		q.insert(e)
	}
	if r.Resume == nil {
		s.dispatch()
	}
	return e.place, nil
}

// entryLess is the service order: virtual join time, then the join time
// ranked by, then arrival in the service (seq). For live callers alone
// placed follows seq, so this is the (vt, seq) order of old.
func entryLess(a, b *entry) bool {
	if !a.vt.Equal(b.vt) {
		return a.vt.Before(b.vt)
	}
	if !a.placed.Equal(b.placed) {
		return a.placed.Before(b.placed)
	}
	return a.seq < b.seq
}

func (q *queueState) insert(e *entry) { q.waiting.insert(e) }

// index is e's index in q.waiting, or -1.
func (q *queueState) index(e *entry) int { return q.waiting.index(e) }

func (q *queueState) remove(e *entry) { q.waiting.remove(e) }

// live is how many callers wait (callback entries are not on hold).
func (q *queueState) live() int { return q.waiting.len() - q.ncb }

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
	out.Joined, out.Wait = e.joined, now.Sub(e.joined)
	for _, o := range e.offers {
		s.endOffer(o, ResultCancelled, cancelReason)
	}
	if _, ok := s.entries[e.callID]; ok {
		q := s.queues[e.queue]
		out.Position = q.placeOf(e)
		delete(s.entries, e.callID)
		q.remove(e)
	}
	s.emit(events.Event{Type: events.QueueLeft, CallID: e.callID, Queue: e.queue, Agent: out.Agent,
		Payload: Left{Callback: e.rejoin, Exit: out.Exit, Reason: out.Reason, WaitMS: out.Wait.Milliseconds()}})
	e.place.outcome = out
	close(e.place.done)
}

func (s *Service) newOfferID() string {
	s.seq++
	return "o" + strconv.FormatUint(s.seq, 10)
}
