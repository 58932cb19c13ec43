package ivr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/calendar"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/flows"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/recording"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/tts"
)

// DefaultMaxSteps bounds the nodes one call may pass through.
const DefaultMaxSteps = 500

// Hang-up reasons in Result.HangupReason.
const (
	ReasonHangup   = "hangup"    // a hangup node
	ReasonCaller   = "caller"    // the caller hung up (ctx cancelled)
	ReasonHandoff  = "handoff"   // handed to a queue or a callback with no engine-side follow-up
	ReasonAnswered = "answered"  // an agent answered from the queue
	ReasonEnd      = "end"       // a node with no next (enqueue/callback) finished
	ReasonMaxSteps = "max-steps" // ErrMaxSteps
	ReasonError    = "error"     // a node could not run (unknown node, callback failure)
)

// Config builds an Engine. Only Prompts is needed to play anything; every
// other field has a safe default.
type Config struct {
	Prompts    Prompts
	Lookups    map[string]config.Lookup
	Calendars  map[string]config.Calendar
	HTTPClient *http.Client // default: a client with no global timeout (each lookup has its own)
	Bus        *events.Bus  // nil: no events
	Logger     *slog.Logger
	Clock      Clock // nil: real time
	Enqueuer   Enqueuer
	Callbacks  CallbackScheduler
	MaxSteps   int // default DefaultMaxSteps
	// Location reads a callback node's chosen time given as HH:MM (the
	// office's zone: the queue calendar's); nil means time.Local.
	Location *time.Location
	// TTS speaks {tts: var} entries (nil: their fallback plays); TTSWait
	// bounds the wait for a text not yet cached (default 2s).
	TTS     *tts.Cache
	TTSWait time.Duration
	// Recordings keeps what voicemail nodes record (nil: a voicemail node
	// records nothing and goes on to next).
	Recordings recording.Store
}

// Engine runs flows. It is safe for concurrent use by many calls.
type Engine struct {
	cfg       Config
	calendars map[string]*calendar.Calendar
	lookups   map[string]config.Lookup // cfg.Lookups with method and timeout defaults applied
	log       *slog.Logger
	// trace, set only by Simulate, shows decisions no event carries
	// (which branch case held, why a lookup failed).
	trace func(typ string, payload any) // the simulator: sim.<typ> events
}

// NewEngine checks the calendars, applies the lookup defaults and returns
// an engine.
func NewEngine(cfg Config) (*Engine, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.MaxSteps <= 0 {
		cfg.MaxSteps = DefaultMaxSteps
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	e := &Engine{cfg: cfg, calendars: map[string]*calendar.Calendar{}, lookups: map[string]config.Lookup{}, log: cfg.Logger}
	for name, lk := range cfg.Lookups {
		lk.Method = strings.ToUpper(lk.Method)
		if lk.Method == "" {
			lk.Method = http.MethodGet
		}
		if lk.Timeout <= 0 {
			lk.Timeout = defaultLookupTimeout
		}
		e.lookups[name] = lk
	}
	for name, c := range cfg.Calendars {
		cal, err := calendar.Parse(c)
		if err != nil {
			return nil, fmt.Errorf("%w %q: %w", ErrBadCalendar, name, err)
		}
		e.calendars[name] = cal
	}
	return e, nil
}

// Handoff records where the flow sent the caller.
type Handoff struct {
	Kind  string `json:"kind"` // enqueue or callback
	Queue string `json:"queue"`
	Node  string `json:"node"`
}

// Result is what happened in the IVR, for the call log.
type Result struct {
	CallID       string            `json:"call_id"`
	Flow         string            `json:"flow"`
	FlowVersion  string            `json:"flow_version"`
	StartedAt    time.Time         `json:"started_at"`
	EndedAt      time.Time         `json:"ended_at"`
	Path         []store.IVRStep   `json:"path"`
	Vars         map[string]string `json:"vars"`
	Language     string            `json:"language"`
	Category     string            `json:"category,omitempty"`
	Tags         []string          `json:"tags,omitempty"`
	Priority     string            `json:"priority,omitempty"`
	Outcome      store.Outcome     `json:"outcome"`
	Handoff      *Handoff          `json:"handoff,omitempty"`
	Legs         []store.CallLeg   `json:"legs,omitempty"` // what the Enqueuer reported, every enqueue node in turn
	HangupReason string            `json:"hangup_reason"`
	// CallbackID and CallbackStatus are what the callback dialogue ended
	// with (Callback*: booked, existing, cancelled, declined, ...), so the
	// call log can link the call to its callback.
	CallbackID     int64  `json:"callback_id,omitempty"`
	CallbackStatus string `json:"callback_status,omitempty"`
	// Recordings are the messages voicemail nodes stored.
	Recordings []Recorded `json:"recordings,omitempty"`
	Err        error      `json:"-"` // why the flow stopped early, if it did
}

// run is the state of one call walking one flow.
type run struct {
	e       *Engine
	call    Call
	flow    *flows.Flow
	log     *slog.Logger
	vars    map[string]string
	lang    string
	res     *Result
	digits  <-chan media.Digit
	pending []media.Digit // type-ahead: digits that stopped a prompt before input was wanted
	step    int           // index of the current node in res.Path
	swallow swallow       // a late gather terminator to drop
	// queuePos is the caller's position when they last left a queue
	// unanswered (QueueResult.Position), for the callback dialogue.
	queuePos int
}

// errEnd stops the walk after a node decided the call is over.
var errEnd = errors.New("end of flow")

// Run walks flow for call until the flow ends, the caller hangs up (ctx
// done: outcome abandoned_ivr) or MaxSteps is reached. It never panics on a
// flow and always returns a Result.
func (e *Engine) Run(ctx context.Context, call Call, flow *flows.Flow) Result {
	return *e.Serve(ctx, call, flow)
}

// Serve is Run with the result by pointer: a caller whose frame stays
// under a long wait (the SIP call's goroutine, while the caller is held in
// a queue) keeps no ~0.4 KiB result slot on its stack for it.
func (e *Engine) Serve(ctx context.Context, call Call, flow *flows.Flow) *Result {
	if flow == nil || call == nil {
		now := e.cfg.Clock.Now()
		return &Result{StartedAt: now, EndedAt: now, Outcome: store.OutcomeFailed, HangupReason: ReasonError,
			Err: fmt.Errorf("%w: no flow or call", ErrUnknownNode)}
	}
	r := e.start(call, flow)
	r.walk(ctx, flow.Start)
	return r.res
}

// start is a run's state before its first node. It and walk are apart
// from Run, and not inlined, so that the frames a held caller keeps below
// the queue's wait (Run's, walk's) hold only the loop's few locals.
//
//go:noinline
func (e *Engine) start(call Call, flow *flows.Flow) *run {
	r := &run{e: e, call: call, flow: flow, lang: flow.Language, digits: call.Digits(),
		log: e.log.With("call_id", call.ID(), "flow", flow.Name, "flow_version", flow.Version)}
	r.vars = map[string]string{"caller": call.Caller(), "called": call.Called(), "language": flow.Language}
	if a, ok := call.(Attributes); ok {
		for k, v := range a.Attributes() {
			if _, builtin := r.vars[k]; !builtin {
				r.vars[k] = v
			}
		}
	}
	r.res = &Result{CallID: call.ID(), Flow: flow.Name, FlowVersion: flow.Version, StartedAt: e.cfg.Clock.Now(), Vars: r.vars}
	r.log.Info("ivr: flow started", "caller", call.Caller(), "called", call.Called())
	return r
}

// walk runs the flow from node name until it ends, then finishes the result.
//
//go:noinline
func (r *run) walk(ctx context.Context, name string) {
	e, flow := r.e, r.flow
	var err error
	for steps := 0; ; steps++ {
		if ctx.Err() != nil {
			err = ctx.Err()
			break
		}
		if steps >= e.cfg.MaxSteps {
			err = fmt.Errorf("%w: %d nodes", ErrMaxSteps, steps)
			break
		}
		n, ok := flow.Nodes[name]
		if !ok {
			err = fmt.Errorf("%w %q", ErrUnknownNode, name)
			break
		}
		r.enter(n)
		name, err = r.exec(ctx, n)
		if err != nil {
			break
		}
	}
	r.finish(ctx, err)
}

func (r *run) finish(ctx context.Context, err error) {
	res := r.res
	switch {
	case errors.Is(err, errEnd):
	case ctx.Err() != nil:
		if res.Outcome == "" {
			res.Outcome = store.OutcomeAbandonedIVR
		}
		res.HangupReason = ReasonCaller
	case errors.Is(err, ErrMaxSteps):
		res.Outcome, res.HangupReason, res.Err = store.OutcomeFailed, ReasonMaxSteps, err
	default:
		res.Outcome, res.HangupReason, res.Err = store.OutcomeFailed, ReasonError, err
	}
	// A caller who talked to someone was answered, even if they hung up
	// later in a queue or a menu (after a transfer, say).
	if (res.Outcome == store.OutcomeAbandonedIVR || res.Outcome == store.OutcomeAbandonedQueue) && answered(res.Legs) {
		res.Outcome = store.OutcomeCompleted
	}
	res.Language = r.lang
	res.Vars = maps.Clone(r.vars)
	res.EndedAt = r.e.cfg.Clock.Now()
	lvl := slog.LevelInfo
	if res.Err != nil {
		lvl = slog.LevelError
	}
	r.log.Log(context.Background(), lvl, "ivr: flow ended", "outcome", res.Outcome, "reason", res.HangupReason, "steps", len(res.Path), "err", res.Err)
}

func answered(legs []store.CallLeg) bool {
	for _, l := range legs {
		if l.Answered() {
			return true
		}
	}
	return false
}

// end marks the call as finished by the flow.
func (r *run) end(outcome store.Outcome, reason string) error {
	r.res.Outcome, r.res.HangupReason = outcome, reason
	return errEnd
}

func (r *run) enter(n *flows.Node) {
	r.res.Path = append(r.res.Path, store.IVRStep{Node: n.Name, Type: n.Type, At: r.e.cfg.Clock.Now()})
	r.step = len(r.res.Path) - 1
	r.log.Debug("ivr: node", "node", n.Name, "type", n.Type)
	r.publish(events.NodeEntered, NodeEnter{Node: n.Name, Type: n.Type, Flow: r.flow.Name, Version: r.flow.Version})
}

// publish puts one of the run's events on the bus; payload is one of the
// structs of events.go.
func (r *run) publish(typ string, payload any) {
	r.e.cfg.Bus.Publish(events.Event{Type: typ, CallID: r.call.ID(), Time: r.e.cfg.Clock.Now(), Payload: payload})
}

func (r *run) traceEvent(typ string, payload any) {
	if r.e.trace != nil {
		r.e.trace(typ, payload)
	}
}

func (r *run) setVar(name, value string) {
	r.vars[name] = value
	r.publish(events.VarSet, VarSet{Name: name, Value: value})
}

// exec runs one node and returns the next node's name, or an error (errEnd
// when the flow is over).
func (r *run) exec(ctx context.Context, n *flows.Node) (string, error) {
	switch n.Type {
	case flows.TypePlay, flows.TypeSay: // a say node's value is its last prompt ref
		if err := r.playRefs(ctx, n.Prompts, n.BargeIn); err != nil {
			return "", err
		}
		return n.Next, nil
	case flows.TypeMenu:
		return r.menu(ctx, n)
	case flows.TypeGather:
		return r.gather(ctx, n)
	case flows.TypeBranch:
		return r.branch(n), nil
	case flows.TypeLanguage:
		r.lang = n.Language
		r.setVar("language", n.Language)
		return n.Next, nil
	case flows.TypeHTTP:
		return r.lookup(ctx, n)
	case flows.TypeTicket:
		r.ticket(n)
		return n.Next, nil
	case flows.TypeSet:
		for _, a := range n.Vars {
			v, _ := flows.Expand(a.Value, r.lookupVar, nil)
			r.setVar(a.Name, v)
		}
		return n.Next, nil
	case flows.TypeEnqueue:
		return r.enqueue(ctx, n)
	case flows.TypeCallback:
		return r.callback(ctx, n)
	case flows.TypeVoicemail:
		return r.voicemail(ctx, n)
	case flows.TypeGoto:
		return n.Next, nil
	case flows.TypeHangup:
		if err := r.playRefs(ctx, n.Prompts, false); err != nil {
			return "", err
		}
		// An outcome a node already decided stands (a callback requested,
		// a queue given up for a callback that was not taken, a failure).
		outcome := store.OutcomeCompleted
		if r.res.Outcome != "" {
			outcome = r.res.Outcome
		}
		return "", r.end(outcome, ReasonHangup)
	}
	return "", fmt.Errorf("%w: node %q has type %q", ErrUnknownNode, n.Name, n.Type)
}

func (r *run) lookupVar(name string) (string, bool) {
	v, ok := r.vars[name]
	return v, ok
}

func (r *run) ticket(n *flows.Node) {
	if n.Category != "" {
		r.res.Category = n.Category
	}
	for _, t := range n.Tags {
		if !slices.Contains(r.res.Tags, t) {
			r.res.Tags = append(r.res.Tags, t)
		}
	}
	if n.Priority != "" {
		r.res.Priority = n.Priority
	}
}
