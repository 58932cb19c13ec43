package app

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/api"
	"github.com/hotline-dev/hotline/calllog"
	"github.com/hotline-dev/hotline/flows"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
)

// ServeCall is the sip.Handler: it runs the flow that claims the dialled
// number (the version current now: a reload later does not touch this call)
// and hands the result to the call logger, which never waits for the database.
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
	mark := a.markAnswered(c, flow)

	res, found, key := a.runFlow(ctx, c, flow)
	a.callEnded(ctx, c, mark, res, found, key)
}

// runFlow looks the caller up and walks the flow. It and callEnded are
// apart from ServeCall, and not inlined, so that the frame a held caller's
// goroutine keeps below the queue's wait for minutes holds only what
// outlives the flow, not the lookup's and the record's locals (~2 KiB).
//
//go:noinline
func (a *App) runFlow(ctx context.Context, c *sip.Call, flow *flows.Flow) (*ivr.Result, lookup, string) {
	attrs, found, key := a.callerAttributes(ctx, c.Caller())
	return a.engine.Serve(ctx, knownCall{Call: c, attrs: attrs}, flow), found, key
}

// callEnded hangs up a call whose flow ended and logs it.
//
//go:noinline
func (a *App) callEnded(ctx context.Context, c *sip.Call, mark *calllog.Mark, res *ivr.Result, found lookup, key string) {
	log := c.Logger()
	if ctx.Err() == nil {
		// The flow ended (hangup node, hand-off done, the agent hung up):
		// we hang up, so the record can carry the real cause and side.
		cause := sip.CauseCompleted
		if agentHungUp(*res) {
			cause = sip.CauseAgentBye
		}
		_ = c.Hangup(ctx, cause)
	}
	rec := callRecord(c, *res)
	stats := c.Media().Stats()
	if a.boundNewCaller(&rec, c.Source(), found, key) {
		log.Warn("caller filed as unverified: the day's bound on new customers is reached", "caller", c.Caller(), "source", c.Source())
	}
	a.metrics.outcomes.WithLabelValues(string(res.Outcome)).Inc()
	a.metrics.rtpPackets.WithLabelValues("sent").Add(float64(stats.PacketsSent))
	a.metrics.rtpPackets.WithLabelValues("received").Add(float64(stats.PacketsReceived))
	a.metrics.rtpPackets.WithLabelValues("lost").Add(float64(stats.Lost))
	a.metrics.rtpPackets.WithLabelValues("rejected").Add(float64(stats.PacketsRejected)) // strict RTP: wrong source
	a.metrics.rtpPackets.WithLabelValues("withheld").Add(float64(stats.PacketsWithheld)) // far end never answered
	a.metrics.rtpEvents.WithLabelValues("late").Add(float64(stats.LateFrames))
	a.metrics.rtpEvents.WithLabelValues("catch_up").Add(float64(stats.CatchUps))
	if err := a.calls.Finish(mark, rec); err != nil { // durable before the call's resources are freed
		log.Error("call record not logged", "err", err)
	}
	log.Info("call finished", "flow", res.Flow, "outcome", res.Outcome, "cause", rec.Voice.HangupCause, "side", rec.Voice.HangupSide,
		"nodes", len(res.Path), "legs", len(res.Legs), "category", res.Category)
}

// callRecord is the ticket-history record of a call that has ended: the
// IVR's result, every leg after it, and who hung up.
func callRecord(c *sip.Call, res ivr.Result) store.CallRecord {
	stats := c.Media().Stats()
	rec := store.CallRecord{
		StartedAt: res.StartedAt, EndedAt: res.EndedAt, Direction: store.DirectionInbound,
		Category: res.Category, Tags: res.Tags, Summary: summary(res),
		Voice: store.VoiceDetails{
			CallID: c.ID(), FromTag: c.FromTag(), CallerNumber: c.Caller(), CalledNumber: c.Called(),
			FlowName: res.Flow, FlowVersion: res.FlowVersion, Path: res.Path, Outcome: res.Outcome,
			PacketsLost: int64(stats.Lost), JitterMillis: float64(stats.Jitter) / float64(time.Millisecond),
		},
	}
	if res.Handoff != nil {
		rec.Voice.Queue = res.Handoff.Queue
	}
	for _, r := range res.Recordings {
		rec.Voice.Recordings = append(rec.Voice.Recordings, store.Recording{ID: r.ID, CallID: c.ID(), FromTag: c.FromTag(),
			Kind: r.Kind, Queue: r.Queue, Format: r.Format, DurationMillis: r.Duration.Milliseconds(), Size: r.Size, CreatedAt: r.CreatedAt})
	}
	rec.Voice.ApplyLegs(res.Legs)
	rec.Voice.HangupCause, rec.Voice.HangupSide = hangupOf(c, res)
	return rec
}

// agentHungUp reports whether the call ended because the party the
// caller was last bridged to (an agent, or a number they were transferred
// to) hung up.
func agentHungUp(res ivr.Result) bool {
	if len(res.Legs) == 0 {
		return false
	}
	l := res.Legs[len(res.Legs)-1]
	return l.End == store.LegHangup && l.EndedBy == store.SideAgent
}

// hangupOf is the record's hang-up cause and side: the agent's when they
// ended the bridge (they hung up first, even if the caller's BYE raced
// ours), else as the call's user agent saw it.
func hangupOf(c *sip.Call, res ivr.Result) (string, store.Side) {
	if agentHungUp(res) {
		return string(sip.CauseAgentBye), store.SideAgent
	}
	cause, _, _ := c.EndCause()
	return string(cause), queue.EndedBy(c)
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
	out := "IVR " + r.Flow + ": " + strings.Join(nodes, " > ") + " (" + string(r.Outcome) + ")"
	for _, rec := range r.Recordings {
		out += fmt.Sprintf(", %s %s", rec.Kind, rec.Duration.Round(time.Second))
	}
	return out
}

// liveCalls backs GET /api/v1/calls: the calls in progress right now.
type liveCalls struct {
	mu    sync.Mutex
	calls map[string]api.LiveCall
}

func newLiveCalls() *liveCalls { return &liveCalls{calls: make(map[string]api.LiveCall)} }

func (l *liveCalls) add(c *sip.Call, flow string) {
	l.mu.Lock()
	l.calls[c.ID()] = api.LiveCall{CallID: c.ID(), Caller: c.Caller(), Called: c.Called(), Flow: flow, StartedAt: time.Now()}
	l.mu.Unlock()
}

func (l *liveCalls) remove(id string) {
	l.mu.Lock()
	delete(l.calls, id)
	l.mu.Unlock()
}

// ListCalls implements api.CallLister, oldest call first.
func (l *liveCalls) ListCalls(context.Context) ([]api.LiveCall, error) {
	l.mu.Lock()
	out := make([]api.LiveCall, 0, len(l.calls))
	for _, c := range l.calls {
		out = append(out, c)
	}
	l.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].StartedAt.Before(out[j].StartedAt) })
	return out, nil
}
