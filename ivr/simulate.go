package ivr

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/flows"
	"github.com/hotline-dev/hotline/media"
)

// Event types only the simulator publishes (on its own bus).
const (
	simInput   = "sim.input"
	simUnused  = "sim.unused"
	simLookup  = "sim.lookup"
	simTimeout = "-"
)

// SimOptions configures Simulate.
type SimOptions struct {
	// Inputs are the caller's input events in order, one per menu choice,
	// gather or confirmation: digits ("1", "123456#") or "-" / "timeout"
	// to let the node time out. When they run out, every wait times out.
	Inputs     []string
	Language   string    // starting language; "" = the flow's
	Caller     string    // default "anonymous"
	Called     string    // default: the flow's first number
	At         time.Time // the simulated moment (calendars); zero = now
	Prompts    Prompts   // nil: every prompt is taken to exist (silent)
	PromptsDir string    // shown as the resolved file: <dir>/<lang>/<name>.wav
	Calendars  map[string]config.Calendar
	// Lookups are the configured lookups (their URLs are shown); a lookup a
	// flow uses that is not here gets a made-up URL.
	Lookups map[string]config.Lookup
	// Answers are JSON bodies by lookup name; a lookup without an answer,
	// or named in Fail, fails (simulate never goes on the network).
	Answers  map[string][]byte
	Fail     map[string]bool
	MaxSteps int
	Logger   *slog.Logger
	// Callbacks takes the callback nodes' requests; nil: a fake that books
	// every request (id 1, position 3, the office open now).
	Callbacks CallbackScheduler
	// Texts gives a prompt's spoken text (prompts/prompts.txt), so that
	// what package say makes of a value prints as words ("say 14 (vi):
	// mười bốn"); nil prints the fragment names.
	Texts func(lang, name string) (string, bool)
}

// Simulate walks flow with no audio on a virtual clock: prompts take no
// time, timeouts fire as soon as the scripted input runs out. It prints every
// node, prompt, digit, variable, lookup and handoff to out, then the result.
func Simulate(ctx context.Context, flow *flows.Flow, opts SimOptions, out io.Writer) (Result, error) {
	at := opts.At
	if at.IsZero() {
		at = time.Now()
	}
	bus := events.NewBus()
	sub := bus.Subscribe(1 << 16)
	defer sub.Close()
	lookups := map[string]config.Lookup{}
	for _, name := range flow.Order {
		if n := flow.Nodes[name]; n.Type == flows.TypeHTTP {
			lk, ok := opts.Lookups[n.Lookup]
			if !ok {
				lk = config.Lookup{URL: "http://lookup.invalid/" + n.Lookup}
			}
			lookups[n.Lookup] = lk
		}
	}
	prompts := opts.Prompts
	if prompts == nil {
		prompts = anyPrompt{}
	}
	clock := &simClock{now: at}
	cbs := opts.Callbacks
	if cbs == nil {
		cbs = simCallbacks{clock: clock}
	}
	e, err := NewEngine(Config{Prompts: prompts, Lookups: lookups, Calendars: opts.Calendars, Bus: bus, Logger: opts.Logger,
		Clock: clock, MaxSteps: opts.MaxSteps, HTTPClient: &http.Client{Transport: &simTransport{opts: opts, bus: bus}},
		Callbacks: cbs, Location: at.Location()})
	if err != nil {
		return Result{}, err
	}
	e.trace = func(typ string, payload any) {
		bus.Publish(events.Event{Type: "sim." + typ, CallID: "simulated", Payload: payload})
	}
	fl := flow
	if opts.Language != "" && opts.Language != flow.Language {
		if !slices.Contains(flow.Languages, opts.Language) {
			return Result{}, fmt.Errorf("ivr: simulate: language %q is not one of the flow's %v", opts.Language, flow.Languages)
		}
		cp := *flow // a shallow copy: only the starting language differs
		cp.Language = opts.Language
		fl = &cp
	}
	call := &simCall{caller: opts.Caller, called: opts.Called, inputs: opts.Inputs, bus: bus, clock: clock,
		digits: make(chan media.Digit, 256)}
	if call.caller == "" {
		call.caller = "anonymous"
	}
	if call.called == "" && len(flow.Numbers) > 0 {
		call.called = flow.Numbers[0]
	}
	fmt.Fprintf(out, "flow %s (version %s) from %s\n", flow.Name, flow.Version, flow.File)
	fmt.Fprintf(out, "caller %s, called %s, language %s, at %s\n", call.caller, call.called, fl.Language, at.Format(time.RFC3339))
	res := e.Run(ctx, call, fl)
	printEvents(out, sub, opts.PromptsDir, opts.Texts)
	if rest := call.inputs[min(call.next, len(call.inputs)):]; len(rest) > 0 {
		fmt.Fprintf(out, "unused input: %s\n", strings.Join(rest, ","))
	}
	printResult(out, res)
	return res, nil
}

// simCall is a call with no audio whose digits come from the script.
type simCall struct {
	caller, called string
	inputs         []string
	next           int
	bus            *events.Bus
	clock          *simClock
	digits         chan media.Digit
}

func (c *simCall) ID() string                 { return "simulated" }
func (c *simCall) Caller() string             { return c.caller }
func (c *simCall) Called() string             { return c.called }
func (c *simCall) Digits() <-chan media.Digit { return c.digits }

// Play takes no time on the wall clock; the virtual clock moves on by the
// prompts' length.
func (c *simCall) Play(ctx context.Context, ps ...*media.Prompt) error {
	for _, p := range ps {
		c.clock.advance(p.Duration())
	}
	return ctx.Err()
}

// WaitingForInput releases the next scripted input event.
func (c *simCall) WaitingForInput(node string) {
	if c.next >= len(c.inputs) {
		c.publish(simInput, simInputEvent{Node: node})
		return
	}
	in := strings.TrimSpace(c.inputs[c.next])
	c.next++
	c.publish(simInput, simInputEvent{Node: node, Input: in, N: c.next})
	if silent(in) {
		return
	}
	for _, k := range in {
		select {
		case c.digits <- media.Digit{Key: k, Source: "simulated", At: c.clock.Now()}:
		default: // more than 256 keys in one event: the rest are dropped
		}
	}
}

// silent reports whether a scripted input event lets the node time out.
func silent(in string) bool { return in == simTimeout || in == "timeout" || in == "" }

// InputDone drops the keys of the event the node did not read.
func (c *simCall) InputDone(node string) {
	var rest []rune
	for {
		select {
		case d := <-c.digits:
			rest = append(rest, d.Key)
		default:
			if len(rest) > 0 {
				c.publish(simUnused, simUnusedEvent{Node: node, Keys: string(rest)})
			}
			return
		}
	}
}

func (c *simCall) publish(typ string, payload any) {
	c.bus.Publish(events.Event{Type: typ, CallID: c.ID(), Time: c.clock.Now(), Payload: payload})
}

// simClock is virtual time: timers fire at once (the scripted input is
// already there or will never come), prompts move it forward.
type simClock struct{ now time.Time }

func (c *simClock) Now() time.Time          { return c.now }
func (c *simClock) advance(d time.Duration) { c.now = c.now.Add(d) }
func (c *simClock) After(d time.Duration) (<-chan time.Time, func()) {
	ch := make(chan time.Time, 1)
	ch <- c.now.Add(d)
	return ch, func() {}
}

// simCallbacks books every callback request: a new one, third in line,
// with the office open now.
type simCallbacks struct{ clock *simClock }

func (c simCallbacks) ScheduleCallback(_ context.Context, req CallbackRequest) (CallbackReceipt, error) {
	first := c.clock.Now()
	if !req.At.IsZero() {
		first = req.At
	}
	return CallbackReceipt{ID: 1, Version: 1, Position: 3, FirstCall: first, OpenNow: req.At.IsZero()}, nil
}

func (simCallbacks) CancelCallback(context.Context, int64, int64) error { return nil }

// anyPrompt has every prompt, silent.
type anyPrompt struct{}

func (anyPrompt) Prompt(lang, name string) (*media.Prompt, error) {
	return media.NewPromptPCM(lang+"/"+name, nil), nil
}

// simTransport answers lookups from SimOptions instead of the network.
type simTransport struct {
	opts SimOptions
	bus  *events.Bus
}

func (t *simTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	name, _ := req.Context().Value(lookupNameKey{}).(string)
	body, ok := t.opts.Answers[name]
	ev := simLookupEvent{Lookup: name, Method: req.Method, URL: req.URL.String()}
	status := http.StatusOK
	switch {
	case t.opts.Fail[name]:
		status, ev.Result = http.StatusServiceUnavailable, "fails (--lookup-fail)"
	case !ok:
		status, ev.Result = http.StatusServiceUnavailable, "fails (no answer given: --lookup "+name+"=FILE)"
	default:
		ev.Result = "answers"
	}
	t.bus.Publish(events.Event{Type: simLookup, CallID: "simulated", Payload: ev})
	if status != http.StatusOK {
		body = nil
	}
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(body)), Request: req, ContentLength: int64(len(body))}, nil
}
