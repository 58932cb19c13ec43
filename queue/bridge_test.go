package queue

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hotline-dev/hotline/bridge"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
)

type fakeLeg struct {
	mu     sync.Mutex
	sink   func([]int16)
	got    [][]int16
	sent   []rune
	digits chan media.Digit
}

func newFakeLeg() *fakeLeg { return &fakeLeg{digits: make(chan media.Digit, 8)} }

func (l *fakeLeg) SetAudioSink(f func([]int16)) { l.mu.Lock(); l.sink = f; l.mu.Unlock() }
func (l *fakeLeg) WriteAudio(p []int16) {
	l.mu.Lock()
	l.got = append(l.got, slices.Clone(p))
	l.mu.Unlock()
}
func (l *fakeLeg) Digits() <-chan media.Digit { return l.digits }
func (l *fakeLeg) Play(ctx context.Context, _ ...*media.Prompt) error {
	<-ctx.Done()
	return ctx.Err()
}
func (l *fakeLeg) SendDigit(_ context.Context, k rune, _ time.Duration, _ media.DigitSource) error {
	l.mu.Lock()
	l.sent = append(l.sent, k)
	l.mu.Unlock()
	return nil
}

// hear delivers received audio to the leg's sink, as the RTP reader would.
func (l *fakeLeg) hear(p []int16) {
	l.mu.Lock()
	f := l.sink
	l.mu.Unlock()
	if f != nil {
		f(p)
	}
}

type fakeAgentCall struct {
	leg    *fakeLeg
	done   chan struct{}
	once   sync.Once
	hungUp bool
}

func newFakeAgentCall() *fakeAgentCall {
	return &fakeAgentCall{leg: newFakeLeg(), done: make(chan struct{})}
}
func (c *fakeAgentCall) Leg() bridge.Leg              { return c.leg }
func (c *fakeAgentCall) Done() <-chan struct{}        { return c.done }
func (c *fakeAgentCall) Ended() (sip.Cause, sip.Side) { return "", "" }
func (c *fakeAgentCall) Hangup(context.Context) error {
	c.once.Do(func() { c.hungUp = true; close(c.done) })
	return nil
}

type dial struct {
	uri   string
	opts  sip.DialOptions
	reply chan error // nil: answer
	ctx   context.Context
	call  *fakeAgentCall
}

// agent is the ID of the agent rung: newB2BUA's contacts are
// sip:u<id>@127.0.0.1:5099.
func (d *dial) agent() string {
	user, _, _ := strings.Cut(strings.TrimPrefix(d.uri, "sip:u"), "@")
	return user
}

type fakeDialer struct{ dials chan *dial }

func (d *fakeDialer) Dial(ctx context.Context, uri string, o sip.DialOptions) (bridge.Call, error) {
	x := &dial{uri: uri, opts: o, reply: make(chan error, 1), ctx: ctx, call: newFakeAgentCall()}
	d.dials <- x
	select {
	case err := <-x.reply:
		if err != nil {
			return nil, err
		}
		return x.call, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type fakeCall struct {
	id     string
	digits chan media.Digit
	// cause and side, when set, are how the call ended as its user agent
	// reports it (sip.Call.EndCause); unset, the call cannot tell.
	cause sip.Cause
	side  sip.Side
}

// endedCall is a fakeCall that reports how it ended, as *sip.Call does.
type endedCall struct{ *fakeCall }

func (c endedCall) EndCause() (sip.Cause, sip.Side, bool) { return c.cause, c.side, c.side != "" }

func (c *fakeCall) ID() string     { return c.id }
func (c *fakeCall) Caller() string { return "+84901234567" }
func (c *fakeCall) Called() string { return "100" }
func (c *fakeCall) Play(ctx context.Context, _ ...*media.Prompt) error {
	<-ctx.Done()
	return ctx.Err()
}
func (c *fakeCall) Digits() <-chan media.Digit { return c.digits }

type b2bua struct {
	svc    *Service
	ringer *SIPRinger
	dialer *fakeDialer
	enq    *Enqueuer
	caller *fakeLeg
	sub    *events.Subscription
}

func newB2BUA(t *testing.T, q config.Queue, ids ...string) *b2bua {
	bus := events.NewBus()
	d := &fakeDialer{dials: make(chan *dial, 4)}
	r := NewSIPRinger(RingerConfig{Dialer: d, Policy: policyFor(t, config.Allow{Hosts: []string{"pbx.example"}}),
		Contacts: func(u string) []string { return []string{"sip:" + u + "@127.0.0.1:5099"} }})
	if q.Strategy == "" {
		q.Strategy = "longest-idle"
	}
	q.RingTimeout, q.MaxMisses, q.MaxWait, q.MaxLength = 15*time.Second, 3, time.Hour, 10
	var ags []config.Agent
	for _, id := range ids {
		ags = append(ags, config.Agent{ID: id, Username: "u" + id, Queues: map[string]int{"q": 0}})
	}
	svc := New(Config{Agents: ags, Queues: one(q), Ringer: r, Bus: bus})
	r.Bind(svc)
	for _, id := range ids {
		svc.Login(id)
	}
	caller := newFakeLeg()
	enq := NewEnqueuer(EnqueuerConfig{Service: svc, Ringer: r, CallerLeg: func(ivr.Call) (bridge.Leg, bool) { return caller, true }})
	t.Cleanup(func() { r.Close() })
	return &b2bua{svc: svc, ringer: r, dialer: d, enq: enq, caller: caller, sub: bus.Subscribe(256)}
}

type enqResult struct {
	res ivr.QueueResult
	err error
}

func (b *b2bua) enqueue(ctx context.Context, call *fakeCall) chan enqResult {
	out := make(chan enqResult, 1)
	go func() {
		res, err := b.enq.Enqueue(ctx, call, ivr.QueueRequest{Queue: "q", Vars: map[string]string{"tier": "vip"}})
		out <- enqResult{res, err}
	}()
	return out
}

func TestBridgeRelaysAudioAndDigitsUntilAgentHangsUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newB2BUA(t, config.Queue{}, "a")
		call := &fakeCall{id: "c1", digits: b.caller.digits}
		done := b.enqueue(t.Context(), call)
		d := <-b.dialer.dials
		if d.uri != "sip:ua@127.0.0.1:5099" || d.opts.From != "+84901234567" {
			t.Fatalf("dialled %q with %+v", d.uri, d.opts)
		}
		d.reply <- nil // agent answers
		synctest.Wait()
		b.caller.hear([]int16{1, 2, 3})
		d.call.leg.hear([]int16{7, 8})
		b.caller.digits <- media.Digit{Key: '5'}
		d.call.leg.digits <- media.Digit{Key: '#'}
		synctest.Wait()
		if len(d.call.leg.got) != 1 || d.call.leg.got[0][2] != 3 || len(b.caller.got) != 1 || b.caller.got[0][1] != 8 {
			t.Fatalf("audio not relayed: agent got %v, caller got %v", d.call.leg.got, b.caller.got)
		}
		if string(d.call.leg.sent) != "5" || string(b.caller.sent) != "#" {
			t.Fatalf("digits not relayed: to agent %q, to caller %q", string(d.call.leg.sent), string(b.caller.sent))
		}
		time.Sleep(42 * time.Second) // they talk (fake time)
		close(d.call.done)           // agent hangs up (BYE)
		r := <-done
		if r.err != nil || !r.res.Answered || len(r.res.Legs) != 1 {
			t.Fatalf("result %+v %v", r.res, r.err)
		}
		if l := r.res.Legs[0]; l.Queue != "q" || l.Agent != "a" || l.End != store.LegHangup || l.EndedBy != store.SideAgent ||
			l.AnsweredAt == nil || l.OfferedAt == nil || l.TalkSeconds != 42 || l.WaitSeconds != 0 || !l.EndedAt.Equal(l.AnsweredAt.Add(42*time.Second)) {
			t.Fatalf("leg %+v", l)
		}
		if a, _ := b.svc.Agent("a"); a.Activity != Idle {
			t.Fatalf("agent after hang-up: %s", a.Activity)
		}
	})
}

// The caller hangs up first after talking: the call was answered, and the
// leg says the caller ended it (the record must not say abandoned).
func TestCallerHangsUpFirstAfterTalking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newB2BUA(t, config.Queue{}, "a")
		ctx, hangup := context.WithCancel(t.Context())
		done := b.enqueue(ctx, &fakeCall{id: "c1"})
		d := <-b.dialer.dials
		time.Sleep(3 * time.Second) // ringing
		d.reply <- nil
		synctest.Wait()
		time.Sleep(30 * time.Second)
		hangup() // the caller's BYE
		r := <-done
		if !r.res.Answered || len(r.res.Legs) != 1 {
			t.Fatalf("result %+v %v", r.res, r.err)
		}
		l := r.res.Legs[0]
		if l.End != store.LegHangup || l.EndedBy != store.SideCaller || l.TalkSeconds != 30 || l.WaitSeconds != 3 ||
			!l.OfferedAt.Equal(l.JoinedAt) || !l.AnsweredAt.Equal(l.JoinedAt.Add(3*time.Second)) {
			t.Fatalf("leg %+v", l)
		}
		if !d.call.hungUp {
			t.Fatal("agent leg not hung up after the caller's BYE")
		}
	})
}

// Who ended the caller's call decides the leg's side and, for a caller
// still waiting, the queue's leave reason: Hotline's shutdown is not the
// caller abandoning.
func TestCallEndedByHotline(t *testing.T) {
	for _, tc := range []struct {
		cause   sip.Cause
		side    sip.Side
		reason  string
		endedBy store.Side
	}{
		{sip.CauseCallerBye, sip.SideRemote, ReasonAbandoned, store.SideCaller},
		{sip.CauseShutdown, sip.SideLocal, ReasonDropped, store.SideHotline},
		{sip.CauseMediaTimeout, sip.SideLocal, ReasonAbandoned, store.SideCaller}, // the caller's phone or network is gone
	} {
		t.Run(string(tc.cause)+" while waiting", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newB2BUA(t, config.Queue{}, "a")
				ctx, end := context.WithCancel(t.Context())
				call := endedCall{&fakeCall{id: "c1", cause: tc.cause, side: tc.side}}
				out := make(chan enqResult, 1)
				go func() {
					res, err := b.enq.Enqueue(ctx, call, ivr.QueueRequest{Queue: "q"})
					out <- enqResult{res, err}
				}()
				<-b.dialer.dials
				time.Sleep(10 * time.Second)
				end()
				r := <-out
				if r.res.Answered || len(r.res.Legs) != 1 || r.res.Reason != tc.reason {
					t.Fatalf("result %+v", r.res)
				}
				if l := r.res.Legs[0]; l.End != store.LegUnanswered || l.Reason != tc.reason || l.WaitSeconds != 10 || l.AnsweredAt != nil {
					t.Fatalf("leg %+v", l)
				}
			})
		})
		t.Run(string(tc.cause)+" while bridged", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newB2BUA(t, config.Queue{}, "a")
				ctx, end := context.WithCancel(t.Context())
				call := endedCall{&fakeCall{id: "c1", cause: tc.cause, side: tc.side}}
				out := make(chan enqResult, 1)
				go func() {
					res, err := b.enq.Enqueue(ctx, call, ivr.QueueRequest{Queue: "q"})
					out <- enqResult{res, err}
				}()
				d := <-b.dialer.dials
				d.reply <- nil
				synctest.Wait()
				end()
				r := <-out
				want := tc.endedBy
				if tc.side == sip.SideLocal {
					want = store.SideHotline // Hotline sent the caller BYE, whatever the reason
				}
				if !r.res.Answered || len(r.res.Legs) != 1 || r.res.Legs[0].EndedBy != want {
					t.Fatalf("result %+v, want a leg ended by %s", r.res, want)
				}
			})
		})
	}
}

func TestCallerHangupWhileRingingCancelsAgent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newB2BUA(t, config.Queue{}, "a")
		ctx, hangup := context.WithCancel(t.Context())
		done := b.enqueue(ctx, &fakeCall{id: "c1"})
		d := <-b.dialer.dials
		hangup()
		r := <-done
		synctest.Wait()
		if !errors.Is(r.err, context.Canceled) || r.res.Reason != ReasonAbandoned || len(r.res.Legs) != 1 ||
			r.res.Legs[0].EndedBy != store.SideCaller || r.res.Legs[0].Reason != ReasonAbandoned {
			t.Fatalf("result %+v %v", r.res, r.err)
		}
		if d.ctx.Err() == nil {
			t.Fatal("agent INVITE not cancelled")
		}
		if a, _ := b.svc.Agent("a"); a.Activity != Idle || a.Misses != 0 {
			t.Fatalf("agent %+v", a)
		}
	})
}

func TestBusyAgentIsAMissAndNextAgentRings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newB2BUA(t, config.Queue{}, "a", "b")
		ctx, hangup := context.WithCancel(t.Context())
		done := b.enqueue(ctx, &fakeCall{id: "c1"})
		d := <-b.dialer.dials
		d.reply <- &sip.StatusError{Code: 486, Reason: "Busy Here"}
		d2 := <-b.dialer.dials
		if d2.agent() == d.agent() {
			t.Fatalf("busy agent %s rung again first", d.agent())
		}
		if a, _ := b.svc.Agent(d.agent()); a.Misses != 1 {
			t.Fatalf("busy not a miss: %+v", a)
		}
		hangup()
		<-done
	})
}

func TestRingerTarget(t *testing.T) {
	r := NewSIPRinger(RingerConfig{
		Policy: policyFor(t, config.Allow{Hosts: []string{"pbx.example", "192.0.2.10", "trunk.example"}, Extensions: []string{"200-299"},
			Numbers: []string{"+8428*"}}, config.Agent{ID: "r", Username: "reg"}, config.Agent{ID: "p", Username: "premium"},
			config.Agent{ID: "s", Username: "stale"}),
		Contacts: func(u string) []string {
			switch u {
			case "reg":
				return []string{"sip:reg@10.0.0.5:5062"}
			case "premium": // planted, or registered before the allow-list changed
				return []string{"sip:+88216000000@trunk.example"}
			case "stale": // the best contact is refused, the next one is rung
				return []string{"sip:+88216000000@10.0.0.6", "sip:stale-0x1@10.0.0.6:5062"}
			}
			return nil
		}})
	defer r.Close()
	tests := []struct {
		o    Offer
		want string
	}{
		{Offer{Username: "reg", URI: "sip:x@pbx.example"}, "sip:reg@10.0.0.5:5062"},
		{Offer{Username: "none", URI: "sip:200@pbx.example"}, "sip:200@pbx.example"},
		{Offer{URI: "sip:200@192.0.2.10:5070;transport=udp"}, "sip:200@192.0.2.10:5070;transport=udp"},
		{Offer{URI: "sip:028 3800 1234@trunk.example"}, ""},
		{Offer{URI: "sip:02838001234@Trunk.Example"}, "sip:+842838001234@Trunk.Example"},
		{Offer{Username: "premium"}, ""},
		{Offer{Username: "premium", URI: "sip:desk@pbx.example"}, "sip:desk@pbx.example"},
		{Offer{Username: "stale"}, "sip:stale-0x1@10.0.0.6:5062"},
		{Offer{URI: "sip:+88216000000@trunk.example"}, ""},
		{Offer{URI: "sip:300@pbx.example"}, ""},
		{Offer{URI: "sip:200@evil.example"}, ""},
		{Offer{URI: "sip:200@pbx.example.evil.example"}, ""},
		{Offer{URI: "tel:+84900000000"}, ""},
		{Offer{}, ""},
	}
	for _, tt := range tests {
		if got := r.target(tt.o); got != tt.want {
			t.Errorf("target(%+v) = %q, want %q", tt.o, got, tt.want)
		}
	}
}

func TestUnreachableAgentIsPausedNotRungForever(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewSIPRinger(RingerConfig{Dialer: &fakeDialer{dials: make(chan *dial)}})
		defer r.Close()
		svc := New(Config{Agents: []config.Agent{{ID: "a", Username: "ua", URI: "sip:a@not-allowed.example",
			Queues: map[string]int{"q": 0}}}, Queues: one(config.Queue{Strategy: "ring-all", MaxLength: 5}), Ringer: r})
		r.Bind(svc)
		svc.Login("a")
		if _, err := svc.Join(JoinRequest{CallID: "c1", Queue: "q"}); err != nil {
			t.Fatal(err)
		}
		a, _ := svc.Agent("a")
		if a.Presence != Paused || a.Reason != PauseNoAnswer || a.Activity != Idle {
			t.Fatalf("agent %+v", a)
		}
		if p, err := svc.Position("c1"); err != nil || p.Position != 1 {
			t.Fatalf("caller lost: %+v %v", p, err)
		}
	})
}
