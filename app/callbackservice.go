package app

import (
	"context"
	"fmt"
	"time"

	"github.com/hotline-dev/hotline/bridge"
	"github.com/hotline-dev/hotline/calendar"
	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/callback/dialer"
	"github.com/hotline-dev/hotline/store"
)

// newCallbacks builds the callback service on the ACD: the scheduler
// (durable in the store), the dialler that places its calls on the agent
// legs' user agent, and the adapter that puts due callbacks in the
// queues' lines (a.acd.callbacks, given to the queue by newACD).
func (a *App) newCallbacks() error {
	cfg, cb := a.cfg, a.acd.callbacks
	if c := a.acd.cluster; c != nil {
		// Requests and changes on every node go to the store and the
		// leader; the leader's own scheduler runs per lead term
		// (cluster_callbacks.go).
		s, err := callback.New(callback.Config{
			Store: lazyCallbacks{a.store}, Queues: cfg.Queues, Calendars: cfg.Calendars, Limits: cfg.Callbacks,
			Policy: a.policy, Bus: a.bus, Logger: a.log, Location: officeLocation(cfg), Remote: c.callbacks.remote,
			Position: c.callbacks.position,
			// It places the calls the leader assigns to this node, and gives
			// back those whose assignment never came (cluster_dial.go).
			Node: cfg.Cluster.Node, Rescan: rescanEvery,
		})
		if err != nil {
			return err
		}
		a.callbacks = s
		a.undo = append(a.undo, s.Close)
		return nil
	}
	d, err := dialer.New(dialer.Config{
		Client: a.acd.client, Policy: a.policy, Prompts: a.prompts, Logger: a.log,
		Connector: callbackConnector{cb}, Agents: callbackAgents{cb}, Zone: queueZones(a),
	})
	if err != nil {
		return fmt.Errorf("callback dialler: %w", err)
	}
	s, err := callback.New(callback.Config{
		Store: lazyCallbacks{a.store}, Queues: cfg.Queues, Calendars: cfg.Calendars, Limits: cfg.Callbacks,
		Policy: a.policy, ACD: cb, Dialer: cb.wrap(d), Bus: a.bus, Logger: a.log, Location: officeLocation(cfg),
	})
	if err != nil {
		return err // names the queue and key
	}
	cb.sched = s
	a.callbacks = s
	cb.start()
	a.undo = append(a.undo, func() error { err := s.Close(); cb.close(); return err })
	return nil
}

// queueZones is the time zone each queue's callbacks are said in: its
// callback calendar's, else the office's.
func queueZones(a *App) func(queue string) *time.Location {
	office := officeLocation(a.cfg)
	zones := map[string]*time.Location{}
	for name, q := range a.cfg.Queues {
		zones[name] = office
		if spec, ok := a.cfg.Calendars[q.Callback.Calendar]; ok {
			if cal, err := calendar.Parse(spec); err == nil {
				zones[name] = cal.Location()
			}
		}
	}
	return func(queue string) *time.Location {
		if z, ok := zones[queue]; ok {
			return z
		}
		return office
	}
}

// callbackConnector is the dialler's customer-first Connector: the
// confirmed customer rejoins the queue at their place, is held and
// bridged like any caller; the talk is the first answered leg's.
type callbackConnector struct{ cb *callbackACD }

func (c callbackConnector) Connect(ctx context.Context, call *dialer.Call, r callback.DialRequest) (dialer.Connected, error) {
	res, err := c.cb.rejoin(ctx, call, r)
	var out dialer.Connected
	for _, l := range res.Legs {
		if !l.Answered() {
			continue
		}
		if !out.Answered {
			out.Answered, out.Agent, out.AnsweredAt, out.EndedBy = true, l.Agent, *l.AnsweredAt, l.EndedBy
		}
		out.Talk += time.Duration(l.TalkSeconds * float64(time.Second))
		if l.End == store.LegHangup {
			out.EndedBy = l.EndedBy
		}
	}
	return out, err
}

// callbackAgents is the dialler's agent-first seam: the leg of the agent
// the queue rang for the callback, once they answered.
type callbackAgents struct{ cb *callbackACD }

func (c callbackAgents) Take(_ context.Context, r callback.DialRequest) (bridge.Call, error) {
	leg, _, ok := c.cb.agentLeg(r)
	if !ok {
		return nil, fmt.Errorf("callback %d: no answered agent leg (agent %q)", r.CallbackID, r.Agent)
	}
	return leg, nil
}
