package app

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
)

// ServeCall is the sip.Handler: it runs the flow that claims the dialled
// number (the version current now: a reload later does not touch this call)
// and hands the result to the call logger, which never blocks.
func (a *App) ServeCall(ctx context.Context, c *sip.Call) {
	log := c.Logger()
	flow, ok := a.flows.ByNumber(c.Called())
	if !ok {
		if flow, ok = a.defaultFlow(); !ok {
			log.Warn("no flow for dialled number (flows changed since the INVITE)", "called", c.Called())
			return
		}
	}
	a.live.add(c, flow.Name)
	defer a.live.remove(c.ID())

	res := a.engine.Run(ctx, knownCall{Call: c, attrs: a.callerAttributes(ctx, c.Caller())}, flow)
	if ctx.Err() == nil {
		// The flow ended (hangup node, hand-off done): we hang up, so the
		// record can carry the real cause and side.
		_ = c.Hangup(ctx, sip.CauseCompleted)
	}
	cause, side, _ := c.EndCause()
	stats := c.Media().Stats()
	rec := store.CallRecord{
		StartedAt: res.StartedAt, EndedAt: res.EndedAt, Direction: store.DirectionInbound,
		Category: res.Category, Tags: res.Tags, Summary: summary(res),
		Voice: store.VoiceDetails{
			CallID: c.ID(), CallerNumber: c.Caller(), CalledNumber: c.Called(),
			FlowName: res.Flow, FlowVersion: res.FlowVersion, Path: res.Path,
			Outcome: res.Outcome, HangupCause: cause, HangupSide: hangupSide(side),
			PacketsLost: int64(stats.Lost), JitterMillis: float64(stats.Jitter) / float64(time.Millisecond),
		},
	}
	if q := res.Queue; q != nil {
		rec.Voice.Agent, rec.Voice.WaitSeconds, rec.Voice.TalkSeconds = q.Agent, q.Wait.Seconds(), q.Talk.Seconds()
	}
	if res.Handoff != nil {
		rec.Voice.Queue = res.Handoff.Queue
	}
	a.metrics.outcomes.WithLabelValues(res.Outcome).Inc()
	a.metrics.rtpPackets.WithLabelValues("sent").Add(float64(stats.PacketsSent))
	a.metrics.rtpPackets.WithLabelValues("received").Add(float64(stats.PacketsReceived))
	a.metrics.rtpPackets.WithLabelValues("lost").Add(float64(stats.Lost))
	a.metrics.rtpEvents.WithLabelValues("late").Add(float64(stats.LateFrames))
	a.metrics.rtpEvents.WithLabelValues("catch_up").Add(float64(stats.CatchUps))
	if err := a.calls.Log(rec); err != nil {
		log.Error("call record not logged", "err", err)
	}
	log.Info("call finished", "flow", res.Flow, "outcome", res.Outcome, "cause", cause, "side", side,
		"nodes", len(res.Path), "category", res.Category)
}

func hangupSide(s string) string {
	if s == sip.SideServer {
		return "hotline"
	}
	return s
}

// summary is the one-line text an agent sees in the timeline.
func summary(r ivr.Result) string {
	var nodes []string
	for _, s := range r.Path {
		n := s.Node
		if s.Digits != "" {
			n += "[" + s.Digits + "]"
		}
		nodes = append(nodes, n)
	}
	return "IVR " + r.Flow + ": " + strings.Join(nodes, " > ") + " (" + r.Outcome + ")"
}

// liveCalls backs GET /api/v1/calls: the calls in progress right now.
type liveCalls struct {
	mu    sync.Mutex
	calls map[string]liveCall
}

type liveCall struct {
	CallID    string    `json:"call_id"`
	Caller    string    `json:"caller"`
	Called    string    `json:"called"`
	Flow      string    `json:"flow"`
	StartedAt time.Time `json:"started_at"`
}

func newLiveCalls() *liveCalls { return &liveCalls{calls: make(map[string]liveCall)} }

func (l *liveCalls) add(c *sip.Call, flow string) {
	l.mu.Lock()
	l.calls[c.ID()] = liveCall{CallID: c.ID(), Caller: c.Caller(), Called: c.Called(), Flow: flow, StartedAt: time.Now()}
	l.mu.Unlock()
}

func (l *liveCalls) remove(id string) {
	l.mu.Lock()
	delete(l.calls, id)
	l.mu.Unlock()
}

// ListCalls implements api.CallLister, oldest call first.
func (l *liveCalls) ListCalls(context.Context) (any, error) {
	l.mu.Lock()
	out := make([]liveCall, 0, len(l.calls))
	for _, c := range l.calls {
		out = append(out, c)
	}
	l.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].StartedAt.Before(out[j].StartedAt) })
	return out, nil
}
