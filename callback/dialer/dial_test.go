package dialer

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/internal/phonetest"
	"github.com/hotline-dev/hotline/outbound"
	"github.com/hotline-dev/hotline/say"
	"github.com/hotline-dev/hotline/store"
)

func loopback(t *testing.T) {
	if testing.Short() {
		t.Skip("loopback SIP")
	}
}

// TestCustomerFirstCompleted (a): the customer's phone receives the INVITE
// with the attempt's Call-ID and From tag and the trunk's caller ID, hears
// the greeting, the time of their call (said in the queue's zone) and the
// key prompt, presses 1 (RFC 4733); the queue gets the call and it and the
// customer hear each other; then the call is completed and hung up.
func TestCustomerFirstCompleted(t *testing.T) {
	loopback(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := newRig(t, nil)
	req := request()
	req.ConfirmTimeout = 10 * time.Second // the phone presses 1 after the prompts, well before
	p := newProgress()
	out := r.dial(ctx, req, p)

	inv := r.customer.NextInvite(t, ctx)
	if want := (phonetest.Invite{CallID: req.CallID, FromTag: req.FromTag, FromUser: "+842838001234", User: "+84912345678"}); inv != want {
		t.Fatalf("INVITE %+v, want %+v", inv, want)
	}
	pc := r.customer.NextCall(t, ctx)
	pc.Heard(t, ctx, greetingHz, "the greeting")
	pc.Heard(t, ctx, confirmHz, `"press 1"`)
	select {
	case <-p.hit:
		t.Fatal("confirmed before the key")
	default:
	}
	pc.Press(t, ctx, '1')
	select {
	case <-p.hit:
	case <-ctx.Done():
		t.Fatal("Progress.Confirmed never came")
	}
	pc.Heard(t, ctx, agentHz, "the agent")
	close(r.release)
	res := result(t, ctx, out)
	pc.WaitEnded(t, ctx, "the customer was not hung up after the talk")

	if res.Result != store.AttemptCompleted || res.SIPStatus != 200 || res.Trunk != "carrier" || res.Agent != "alice" ||
		res.Talk <= 0 || res.AnsweredAt.IsZero() || res.ConfirmedAt.IsZero() || res.ConfirmedAt.Before(res.AnsweredAt) {
		t.Fatalf("result %+v", res)
	}
	if got := p.confirmed(); len(got) != 1 || !got[0].Equal(res.ConfirmedAt) {
		t.Errorf("Confirmed(%v), result says %v", got, res.ConfirmedAt)
	}
	if len(r.conn.calls) != 1 || r.conn.reqs[0].CallbackID != 42 {
		t.Fatalf("Connector got %d calls", len(r.conn.calls))
	}
	c := r.conn.calls[0]
	if c.ID() != req.CallID || c.Caller() != "+84912345678" || c.Called() != "+842838001234" {
		t.Errorf("Call: id %q caller %q called %q", c.ID(), c.Caller(), c.Called())
	}
	// 07:05 UTC is 14:05 in Ho Chi Minh City: "about your call at two oh five p.m."
	want := []string{"en/callback-greeting", "en/callback-call-at"}
	for _, n := range say.Time("en", req.AskedAt.In(r.zone)) {
		want = append(want, "en/"+n)
	}
	want = append(want, "en/callback-connect-key")
	if got := r.prompts.names(); !slices.Equal(got, want) {
		t.Errorf("prompts %v, want %v", got, want)
	}
}

// TestCustomerFirstEnds: the calls that end before a talk, each with the
// result the scheduler retries (or not) on.
func TestCustomerFirstEnds(t *testing.T) {
	loopback(t)
	for _, tc := range []struct {
		name   string
		answer int // what the phone does: 200, 180 (rings), a status
		want   store.AttemptResult
		status int
	}{
		{"busy", 486, store.AttemptBusy, 486},
		{"busy everywhere", 600, store.AttemptBusy, 600},
		{"declined", 603, store.AttemptRejected, 603},
		{"forbidden", 403, store.AttemptRejected, 403},
		{"unavailable", 480, store.AttemptNoAnswer, 480},
		{"trunk full", 503, store.AttemptTrunkFailed, 503},
		{"no answer", 180, store.AttemptNoAnswer, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			r := newRig(t, func(c *Config) { c.RingTimeout = 700 * time.Millisecond })
			r.customer.Behave(func(phonetest.Invite) phonetest.Action { return phonetest.Action(tc.answer) })
			res := result(t, ctx, r.dial(ctx, request(), newProgress()))
			if res.Result != tc.want || res.SIPStatus != tc.status || res.Trunk != "carrier" || !res.AnsweredAt.IsZero() {
				t.Fatalf("result %+v, want %s with %d", res, tc.want, tc.status)
			}
			if tc.answer == 180 {
				select {
				case id := <-r.customer.Cancels():
					if id != request().CallID {
						t.Errorf("CANCEL for %q", id)
					}
				case <-ctx.Done():
					t.Fatal("the ringing phone was never cancelled")
				}
				if !strings.Contains(res.Reason, "no answer in 700ms") {
					t.Errorf("reason %q", res.Reason)
				}
			} else if !strings.HasPrefix(res.Reason, strconv.Itoa(tc.status)+" ") {
				t.Errorf("reason %q", res.Reason)
			}
			if len(r.conn.calls) != 0 {
				t.Error("an unanswered call reached the queue")
			}
		})
	}
}

// TestRequestRingTimeout: the queue's ring_timeout (DialRequest.RingTimeout)
// bounds the ringing, not the dialler's default.
func TestRequestRingTimeout(t *testing.T) {
	loopback(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := newRig(t, func(c *Config) { c.RingTimeout = time.Minute })
	r.customer.Behave(func(phonetest.Invite) phonetest.Action { return phonetest.Ring })
	req := request()
	req.RingTimeout = 600 * time.Millisecond
	start := time.Now()
	res := result(t, ctx, r.dial(ctx, req, newProgress()))
	if res.Result != store.AttemptNoAnswer || !strings.Contains(res.Reason, "no answer in 600ms") {
		t.Fatalf("result %+v, want no_answer after the request's 600ms", res)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("rang for %v: the dialler's default, not the request's", d)
	}
	select {
	case <-r.customer.Cancels():
	case <-ctx.Done():
		t.Fatal("the ringing phone was never cancelled")
	}
}

// TestNoConfirmation (b): an answering machine answers, hears everything
// and never presses 1: no_confirmation after ConfirmTimeout, hung up, the
// queue never sees it.
func TestNoConfirmation(t *testing.T) {
	loopback(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := newRig(t, nil)
	req := request()
	req.ConfirmTimeout = 400 * time.Millisecond
	p := newProgress()
	start := time.Now()
	out := r.dial(ctx, req, p)
	pc := r.customer.NextCall(t, ctx)
	pc.Press(t, ctx, '2') // a key, but not the confirm key
	pc.Heard(t, ctx, confirmHz, `"press 1"`)
	res := result(t, ctx, out)
	pc.WaitEnded(t, ctx, "the machine was not hung up")
	if res.Result != store.AttemptNoConfirmation || res.SIPStatus != 200 || res.AnsweredAt.IsZero() || !res.ConfirmedAt.IsZero() {
		t.Fatalf("result %+v", res)
	}
	// The prompts are 1.4 s of tones; the wait starts after them.
	if d := time.Since(start); d < 1800*time.Millisecond {
		t.Errorf("gave up after %v: the timeout must start after the prompts", d)
	}
	if len(p.confirmed()) != 0 || len(r.conn.calls) != 0 {
		t.Errorf("confirmed %v, connector calls %d", p.confirmed(), len(r.conn.calls))
	}
}

// TestBargeIn: 1 pressed during the greeting confirms at once.
func TestBargeIn(t *testing.T) {
	loopback(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := newRig(t, nil)
	p := newProgress()
	out := r.dial(ctx, request(), p)
	pc := r.customer.NextCall(t, ctx)
	pc.Heard(t, ctx, greetingHz, "the greeting")
	pc.Press(t, ctx, '1')
	select {
	case <-p.hit:
	case <-ctx.Done():
		t.Fatal("no confirmation")
	}
	pc.Heard(t, ctx, agentHz, "the agent")
	close(r.release)
	if res := result(t, ctx, out); res.Result != store.AttemptCompleted {
		t.Fatalf("result %+v", res)
	}
}

// TestAbandoned (g): the customer confirms, then hangs up while waiting
// for an agent.
func TestAbandoned(t *testing.T) {
	loopback(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := newRig(t, nil)
	r.conn.fn = func(ctx context.Context, c *Call) (Connected, error) {
		select { // holding: no agent answers
		case <-c.Done():
			return Connected{EndedBy: store.SideCaller}, nil
		case <-ctx.Done():
			return Connected{}, ctx.Err()
		}
	}
	p := newProgress()
	out := r.dial(ctx, request(), p)
	pc := r.customer.NextCall(t, ctx)
	pc.Press(t, ctx, '1')
	<-p.hit
	pc.Hangup(t, ctx)
	res := result(t, ctx, out)
	if res.Result != store.AttemptAbandoned || res.ConfirmedAt.IsZero() || res.Agent != "" || res.Talk != 0 {
		t.Fatalf("result %+v", res)
	}
}

// TestConnectError: the queue cannot take the confirmed customer: the
// customer is hung up and the attempt is abandoned with the reason.
func TestConnectError(t *testing.T) {
	loopback(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := newRig(t, nil)
	r.conn.fn = func(context.Context, *Call) (Connected, error) {
		return Connected{}, errors.New("queue technical is closed")
	}
	p := newProgress()
	out := r.dial(ctx, request(), p)
	pc := r.customer.NextCall(t, ctx)
	pc.Press(t, ctx, '1')
	res := result(t, ctx, out)
	pc.WaitEnded(t, ctx, "the customer was not hung up")
	if res.Result != store.AttemptAbandoned || !strings.Contains(res.Reason, "queue technical is closed") {
		t.Fatalf("result %+v", res)
	}
}

// TestRefused (e) and TestNotPlaced (f): the policy decides before any
// INVITE.
func TestRefusedAndNotPlaced(t *testing.T) {
	loopback(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := newRig(t, nil)

	req := request()
	req.Number = "+14155550100" // not in allow.numbers
	res := result(t, ctx, r.dial(ctx, req, newProgress()))
	if res.Result != store.AttemptRefused || !strings.HasPrefix(res.Reason, string(outbound.ReasonNotAllowed)+": ") || res.SIPStatus != 0 {
		t.Fatalf("refused: %+v", res)
	}

	// The trunk's one channel is taken (a call the test holds).
	g, err := r.policy.CheckDial(outbound.Dial{Number: "+84987654321"})
	if err != nil {
		t.Fatal(err)
	}
	res = result(t, ctx, r.dial(ctx, request(), newProgress()))
	g.Release()
	if res.Result != store.AttemptNotPlaced || !strings.HasPrefix(res.Reason, string(outbound.ReasonTrunkBusy)+": ") {
		t.Fatalf("trunk busy: %+v", res)
	}
	select {
	case inv := <-r.customer.Invites():
		t.Fatalf("an INVITE was sent: %+v", inv)
	default: // Dial returned before any INVITE could leave
	}
}

// TestCancelled (h): the scheduler's context ends (a shutdown) while the
// customer listens to the greeting, and while the phone rings: Dial hangs
// up (BYE, CANCEL) at once and returns interrupted.
func TestCancelled(t *testing.T) {
	loopback(t)
	t.Run("answered", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		r := newRig(t, nil)
		dctx, stop := context.WithCancel(ctx)
		out := r.dial(dctx, request(), newProgress())
		pc := r.customer.NextCall(t, ctx)
		pc.Heard(t, ctx, greetingHz, "the greeting")
		stop()
		res := result(t, ctx, out)
		pc.WaitEnded(t, ctx, "no BYE after the cancel")
		if res.Result != store.AttemptInterrupted || res.AnsweredAt.IsZero() {
			t.Fatalf("result %+v", res)
		}
	})
	t.Run("ringing", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		r := newRig(t, nil)
		r.customer.Behave(func(phonetest.Invite) phonetest.Action { return phonetest.Ring })
		dctx, stop := context.WithCancel(ctx)
		out := r.dial(dctx, request(), newProgress())
		r.customer.NextInvite(t, ctx)
		stop()
		res := result(t, ctx, out)
		if res.Result != store.AttemptInterrupted {
			t.Fatalf("result %+v", res)
		}
		select {
		case <-r.customer.Cancels():
		case <-ctx.Done():
			t.Fatal("no CANCEL")
		}
	})
	t.Run("confirmed", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		r := newRig(t, nil)
		dctx, stop := context.WithCancel(ctx)
		p := newProgress()
		out := r.dial(dctx, request(), p)
		pc := r.customer.NextCall(t, ctx)
		pc.Press(t, ctx, '1')
		<-p.hit
		pc.Heard(t, ctx, agentHz, "the queue")
		stop() // the fake queue returns ctx's error, as a queue waiting for an agent would
		res := result(t, ctx, out)
		pc.WaitEnded(t, ctx, "no BYE after the cancel")
		if res.Result != store.AttemptInterrupted || res.ConfirmedAt.IsZero() {
			t.Fatalf("result %+v", res)
		}
	})
}

func TestStatusResult(t *testing.T) {
	for code, want := range map[int]store.AttemptResult{
		486: store.AttemptBusy, 600: store.AttemptBusy, 603: store.AttemptRejected, 403: store.AttemptRejected,
		404: store.AttemptRejected, 408: store.AttemptNoAnswer, 480: store.AttemptNoAnswer, 487: store.AttemptNoAnswer,
		500: store.AttemptTrunkFailed, 503: store.AttemptTrunkFailed, 401: store.AttemptTrunkFailed, 407: store.AttemptTrunkFailed,
		488: store.AttemptTrunkFailed,
	} {
		if got := statusResult(code); got != want {
			t.Errorf("%d → %s, want %s", code, got, want)
		}
	}
}

func TestNew(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("New without a client")
	}
	var _ callback.Dialer = (*Dialer)(nil)
}
