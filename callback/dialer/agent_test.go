package dialer

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/bridge"
	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/internal/phonetest"
	"github.com/hotline-dev/hotline/say"
	"github.com/hotline-dev/hotline/store"
)

// agentRig adds an agent's phone (a second plain-sipgo phone) that the
// fake Agents rings with Hotline's client.
func agentRig(t *testing.T) (*rig, *phonetest.Phone, *agents) {
	t.Helper()
	agentPhone := phonetest.New(t, agentPorts, agentPorts+98, agentHz, whisperHz, customerHz)
	var ag *agents
	r := newRig(t, func(c *Config) {
		ag = &agents{legs: make(chan bridge.Call, 4)}
		c.Agents = ag
	})
	ag.client, ag.uri = r.client, agentPhone.URI("alice")
	return r, agentPhone, ag
}

func agentRequest() callback.DialRequest {
	req := request()
	req.Mode, req.Agent = store.CallbackAgentFirst, "alice"
	return req
}

// TestAgentFirstCompleted (i): the agent answers and hears the whisper
// ("callback for" and the number, and the queue's name), the customer is
// dialled, greeted and presses 1, then they hear each other until the
// agent hangs up: completed, with the talk time, both legs hung up.
func TestAgentFirstCompleted(t *testing.T) {
	loopback(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, agentPhone, _ := agentRig(t)
	req := agentRequest()
	p := newProgress()
	out := r.dial(ctx, req, p)

	ac := agentPhone.NextCall(t, ctx)
	ac.Heard(t, ctx, whisperHz, "the whisper")
	if inv := r.customer.NextInvite(t, ctx); inv.CallID != req.CallID || inv.FromTag != req.FromTag {
		t.Fatalf("customer INVITE %+v", inv)
	}
	pc := r.customer.NextCall(t, ctx)
	pc.Heard(t, ctx, greetingHz, "the greeting")
	pc.Heard(t, ctx, confirmHz, `"press 1"`)
	pc.Press(t, ctx, '1')
	<-p.hit
	pc.Heard(t, ctx, agentHz, "the agent")
	ac.Heard(t, ctx, customerHz, "the customer")
	ac.Hangup(t, ctx)
	res := result(t, ctx, out)
	pc.WaitEnded(t, ctx, "the customer was not hung up after the agent left")
	if res.Result != store.AttemptCompleted || res.Agent != "alice" || res.Talk <= 0 || res.SIPStatus != 200 ||
		res.Trunk != "carrier" || res.ConfirmedAt.IsZero() || !strings.Contains(res.Reason, "ended by b") {
		t.Fatalf("result %+v", res)
	}
	if len(r.conn.calls) != 0 {
		t.Error("an agent-first callback went to the queue's Connector")
	}
	want := []string{"en/callback-whisper"}
	for _, n := range say.Digits("en", "84912345678") {
		want = append(want, "en/"+n)
	}
	want = append(want, "en/queue-name-technical")
	// The greeting is looked up at the same time: keep the whisper's.
	got := slices.DeleteFunc(r.prompts.names(), func(n string) bool {
		return !strings.HasPrefix(n, "en/digit-") && n != "en/callback-whisper" && n != "en/queue-name-technical"
	})
	if !slices.Equal(got, want) {
		t.Errorf("whisper prompts %v, want %v", got, want)
	}
}

// TestAgentFirstMissed: no agent leg (the agent did not answer), or the
// agent hangs up while the customer's phone rings: agent_missed, and the
// customer is not dialled or the dial is cancelled.
func TestAgentFirstMissed(t *testing.T) {
	loopback(t)
	t.Run("not reached", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		r, _, ag := agentRig(t)
		ag.err = errors.New("no answer from alice")
		res := result(t, ctx, r.dial(ctx, agentRequest(), newProgress()))
		if res.Result != store.AttemptAgentMissed || !strings.Contains(res.Reason, "no answer from alice") {
			t.Fatalf("result %+v", res)
		}
		select {
		case inv := <-r.customer.Invites():
			t.Fatalf("the customer was dialled: %+v", inv)
		default:
		}
	})
	t.Run("left while ringing", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		r, agentPhone, _ := agentRig(t)
		r.customer.Behave(func(phonetest.Invite) phonetest.Action { return phonetest.Ring })
		out := r.dial(ctx, agentRequest(), newProgress())
		ac := agentPhone.NextCall(t, ctx)
		r.customer.NextInvite(t, ctx)
		ac.Hangup(t, ctx)
		res := result(t, ctx, out)
		if res.Result != store.AttemptAgentMissed || res.Agent != "" {
			t.Fatalf("result %+v", res)
		}
		select {
		case <-r.customer.Cancels():
		case <-ctx.Done():
			t.Fatal("the customer's ringing was not cancelled")
		}
	})
	t.Run("no seam", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		r := newRig(t, nil)
		if res := result(t, ctx, r.dial(ctx, agentRequest(), newProgress())); res.Result != store.AttemptAgentMissed {
			t.Fatalf("result %+v", res)
		}
	})
}
