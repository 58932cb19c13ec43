package dialer

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/bridge"
	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/internal/phonetest"
	"github.com/hotline-dev/hotline/internal/siptest"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/outbound"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
)

// The tones of the test's prompt library and of the phones: every prompt
// is a tone, so a phone proves what it heard by its frequency.
const (
	greetingHz = 500.0  // callback-greeting
	confirmHz  = 1100.0 // callback-connect-key
	whisperHz  = 800.0  // callback-whisper
	customerHz = 600.0  // the customer's voice
	agentHz    = 1400.0 // the agent's voice (or the fake queue's)
	otherHz    = 2500.0 // any other fragment: the time, digits, a queue's name
)

// RTP ports of this package's tests (below 32768, used by no other test).
const (
	hotlinePorts  = 32000 // Hotline's client: 32000-32198
	customerPorts = 32200 // the customer's phone: 32200-32298
	agentPorts    = 32300 // the agent's phone: 32300-32398
)

// tonePrompts is a prompt library of tones that records what was looked up.
type tonePrompts struct {
	mu    sync.Mutex
	asked []string
}

func (p *tonePrompts) Prompt(lang, name string) (*media.Prompt, error) {
	p.mu.Lock()
	p.asked = append(p.asked, lang+"/"+name)
	p.mu.Unlock()
	hz, dur := otherHz, 150*time.Millisecond
	switch name {
	case "callback-greeting":
		hz, dur = greetingHz, 500*time.Millisecond
	case "callback-connect-key":
		hz, dur = confirmHz, 500*time.Millisecond
	case "callback-whisper":
		hz, dur = whisperHz, 500*time.Millisecond
	}
	return media.NewPromptPCM(name, media.Tone([]float64{hz}, dur)), nil
}

func (p *tonePrompts) names() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.asked)
}

// progress records Confirmed.
type progress struct {
	mu  sync.Mutex
	at  []time.Time
	hit chan struct{}
}

func newProgress() *progress { return &progress{hit: make(chan struct{}, 4)} }

func (p *progress) Confirmed(at time.Time) {
	p.mu.Lock()
	p.at = append(p.at, at)
	p.mu.Unlock()
	p.hit <- struct{}{}
}

func (p *progress) confirmed() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.at)
}

// connector is the fake queue: Connect hands the call to the test's
// function (nil: it plays the agent's tone both ways and returns
// answered once each side heard the other).
type connector struct {
	mu    sync.Mutex
	calls []*Call
	reqs  []callback.DialRequest
	fn    func(ctx context.Context, c *Call) (Connected, error)
}

func (k *connector) Connect(ctx context.Context, c *Call, r callback.DialRequest) (Connected, error) {
	k.mu.Lock()
	k.calls = append(k.calls, c)
	k.reqs = append(k.reqs, r)
	fn := k.fn
	k.mu.Unlock()
	return fn(ctx, c)
}

// agents is the fake Agents: it dials the agent's phone with the same
// client, as the queue's ringer would, or fails with err.
type agents struct {
	client *sip.Client
	uri    string
	err    error
	legs   chan bridge.Call
}

func (a *agents) Take(ctx context.Context, r callback.DialRequest) (bridge.Call, error) {
	if a.err != nil {
		return nil, a.err
	}
	oc, err := a.client.DialContact(ctx, a.uri, sip.DialOptions{DisplayName: "Callback " + r.Queue, CallID: r.CallID})
	if err != nil {
		return nil, err
	}
	leg := bridge.SIPCall{OutboundCall: oc}
	a.legs <- leg
	return leg, nil
}

type rig struct {
	t        *testing.T
	customer *phonetest.Phone
	policy   *outbound.Policy
	client   *sip.Client
	prompts  *tonePrompts
	conn     *connector
	dialer   *Dialer
	zone     *time.Location
	release  chan struct{} // closed by the test: talk's call is over
}

// newRig: a Hotline sip.Client whose policy has one trunk, "carrier",
// to the customer's phone (max_calls 1, caller ID 028 3800 1234).
func newRig(t *testing.T, cfg func(*Config)) *rig {
	t.Helper()
	customer := phonetest.New(t, customerPorts, customerPorts+98, customerHz, greetingHz, confirmHz, agentHz)
	pol, err := outbound.New(outbound.Config{Allow: config.Allow{Numbers: []string{"+849*"}}, DefaultCountry: "VN",
		Trunks: []config.Trunk{{Name: "carrier", Host: customer.Addr(), CallerID: "+842838001234", MaxCalls: 1, Numbers: []string{"+84*"}}},
		Logger: testLog()})
	if err != nil {
		t.Fatal(err)
	}
	pool, err := media.NewPortPool(hotlinePorts, hotlinePorts+198)
	if err != nil {
		t.Fatal(err)
	}
	client := siptest.Client(t, sip.ClientConfig{Addr: "127.0.0.1:0", Logger: testLog(), RTP: pool})
	zone, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, customer: customer, policy: pol, client: client, prompts: &tonePrompts{}, conn: &connector{}, zone: zone,
		release: make(chan struct{})}
	r.conn.fn = r.talk
	c := Config{Client: client, Policy: pol, Prompts: r.prompts, Connector: r.conn, Logger: testLog(),
		Zone: func(q string) *time.Location {
			if q == "technical" {
				return zone
			}
			return nil
		}, RingTimeout: 5 * time.Second}
	if cfg != nil {
		cfg(&c)
	}
	if r.dialer, err = New(c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s := pol.Stats(); s.Active != 0 {
			t.Errorf("outbound grants still held: %+v", s)
		}
	})
	return r
}

// talk is the fake queue's default Connect: "the agent" (a tone) and the
// customer hear each other, then the talk ends.
func (r *rig) talk(ctx context.Context, c *Call) (Connected, error) {
	heard := make(chan struct{})
	var once sync.Once
	c.Media().SetAudioSink(func(pcm []int16) {
		if media.ToneShare(pcm, customerHz) > 0.6 {
			once.Do(func() { close(heard) })
		}
	})
	defer c.Media().SetAudioSink(nil)
	answered := time.Now()
	pctx, stop := context.WithCancel(ctx)
	played := make(chan struct{})
	go func() {
		defer close(played)
		_ = c.Play(pctx, media.NewPromptPCM("agent", media.Tone([]float64{agentHz}, 10*time.Second)))
	}()
	defer func() { stop(); <-played }()
	select {
	case <-heard:
	case <-c.Done():
		return Connected{EndedBy: store.SideCaller}, nil
	case <-ctx.Done():
		return Connected{EndedBy: store.SideHotline}, ctx.Err()
	}
	select { // the test has checked that the phone heard "the agent"
	case <-r.release:
	case <-c.Done():
		return Connected{EndedBy: store.SideCaller}, nil
	case <-ctx.Done():
		return Connected{EndedBy: store.SideHotline}, ctx.Err()
	}
	return Connected{Agent: "alice", AnsweredAt: answered, Talk: time.Since(answered), Answered: true, EndedBy: store.SideAgent}, nil
}

// request is a customer-first attempt to +84 912 345 678 in technical.
func request() callback.DialRequest {
	return callback.DialRequest{CallbackID: 42, Attempt: 1, MaxAttempts: 3, Queue: "technical", Number: "+84912345678",
		Mode: store.CallbackCustomerFirst, CallID: "5f1c2a9e-8a7b-4c3d-9e0f-112233445566", FromTag: "0a1b2c3d4e5f6071",
		AskedAt: time.Date(2026, 3, 2, 7, 5, 0, 0, time.UTC), JoinedAt: time.Date(2026, 3, 2, 7, 4, 0, 0, time.UTC),
		Tier: "standard", ConfirmKey: "1", ConfirmTimeout: 2 * time.Second,
		Prompts:  config.CallbackPrompts{Greeting: "callback-greeting", Confirm: "callback-connect-key", Whisper: "callback-whisper"},
		Language: "en", TicketID: 7}
}

// dial runs Dial on its own goroutine; the channel has its Result.
func (r *rig) dial(ctx context.Context, req callback.DialRequest, p callback.Progress) <-chan callback.Result {
	out := make(chan callback.Result, 1)
	go func() { out <- r.dialer.Dial(ctx, req, p) }()
	return out
}

func result(t *testing.T, ctx context.Context, c <-chan callback.Result) callback.Result {
	t.Helper()
	select {
	case res := <-c:
		return res
	case <-ctx.Done():
		t.Fatal("Dial did not return")
	}
	return callback.Result{}
}
