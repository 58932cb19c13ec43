package queue

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	gosip "github.com/emiago/sipgo/sip"

	"github.com/hotline-dev/hotline/bridge"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/referphone"
	"github.com/hotline-dev/hotline/internal/siptest"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/outbound"
	"github.com/hotline-dev/hotline/registrar"
	"github.com/hotline-dev/hotline/sip"
)

// TestLoopbackCallerBridgedToRegisteredAgent runs the whole path over UDP on
// 127.0.0.1: an agent phone (a PCMA-only SIP UA) registers with digest auth,
// a PCMU caller dials Hotline and is queued, Hotline rings the registered
// contact and bridges: each side's tone is heard by the other (transcoded),
// the caller's RFC 4733 digit reaches the agent,
// and the caller's hang-up sends BYE to the agent.
func TestLoopbackCallerBridgedToRegisteredAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("loopback SIP")
	}
	for _, side := range []string{"caller", "agent"} {
		t.Run(side+" hangs up", func(t *testing.T) { loopbackBridge(t, side) })
	}
}

// hotlineRig is Hotline's call path for loopback tests: registrar, queue
// service with a SIPRinger on a sip.Client, and a sip.Server whose handler
// enqueues every call in queue "q".
type hotlineRig struct {
	ringing chan string // offer IDs whose agent phone sent 180
	svc     *Service
	reg     *registrar.Registrar
	sub     *events.Subscription
	addr    string
}

func startHotline(t *testing.T, ctx context.Context, ags []config.Agent) *hotlineRig {
	t.Helper()
	return startHotlineWith(t, ctx, ags, rigOptions{})
}

// rigOptions vary a hotlineRig: the registrar's and the ringer's outbound
// policies (nil: built from the agents alone) and the logger.
type rigOptions struct {
	registrarPolicy, ringerPolicy *outbound.Policy
	log                           *slog.Logger
}

func startHotlineWith(t *testing.T, ctx context.Context, ags []config.Agent, o rigOptions) *hotlineRig {
	t.Helper()
	bus := events.NewBus()
	sub := bus.Subscribe(1024)
	log := o.log
	if log == nil {
		log = testLog()
	}
	if o.ringerPolicy == nil {
		o.ringerPolicy = policyFor(t, config.Allow{}, ags...)
	}
	reg := registrar.New(registrar.Config{Agents: ags, Bus: bus, Policy: o.registrarPolicy, Logger: log})
	out := siptest.Client(t, sip.ClientConfig{Addr: "127.0.0.1:0"})
	ringing := make(chan string, 16)
	onRinging := func(o Offer) {
		select {
		case ringing <- o.ID:
		default:
		}
	}
	ringer := NewSIPRinger(RingerConfig{Logger: log, Dialer: bridge.SIPDialer{Client: out}, OnRinging: onRinging, Contacts: reg.ContactURIs,
		Policy: o.ringerPolicy})
	svc := New(Config{Agents: ags, Ringer: ringer, Bus: bus, Queues: map[string]config.Queue{"q": {
		Strategy: "longest-idle", RingTimeout: 10 * time.Second, MaxMisses: 3, WrapUp: time.Second,
		MaxWait: time.Minute, MaxLength: 10, JoinEmpty: true}}})
	ringer.Bind(svc)
	enq := NewEnqueuer(EnqueuerConfig{Service: svc, Ringer: ringer})
	var wg sync.WaitGroup
	runCtx, stopRun := context.WithCancel(ctx)
	wg.Add(1)
	go func() { defer wg.Done(); svc.Run(runCtx) }()
	pool, _ := media.NewPortPool(46000, 46498)
	hotline, err := sip.NewServer(sip.ServerConfig{UDP: "127.0.0.1:0", RTP: pool, Bus: bus, Register: reg.HandleRegister,
		InbandDTMF: "never"}, sip.HandlerFunc(func(ctx context.Context, c *sip.Call) {
		enq.Enqueue(ctx, c, ivr.QueueRequest{Queue: "q"})
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := hotline.Listen(); err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := hotline.Serve(context.Background()); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		stopRun()
		ringer.Close()
		out.Close()
		hotline.Close()
		wg.Wait()
		sub.Close()
	})
	return &hotlineRig{svc: svc, reg: reg, sub: sub, addr: hotline.Addr().String(), ringing: ringing}
}

// dialTone calls Hotline from a PCMU caller that sends a tone of freq Hz.
func dialTone(t *testing.T, ctx context.Context, addr string, freq float64) (*sip.OutboundCall, context.CancelFunc) {
	t.Helper()
	caller := siptest.Client(t, sip.ClientConfig{Addr: "127.0.0.1:0"})
	t.Cleanup(func() { caller.Close() })
	oc, err := caller.Dial(ctx, "sip:100@"+addr, sip.DialOptions{From: "0901234567", Codecs: []media.Codec{media.PCMU}})
	if err != nil {
		t.Fatal(err)
	}
	playCtx, stopPlay := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); referphone.PlayTone(playCtx, oc.Media(), freq) }()
	stop := func() { stopPlay(); <-done }
	t.Cleanup(stop)
	return oc, stop
}

// waitIdleAfterCall waits for the agent's wrap-up to end and checks the
// queue counted one answered call.
func (h *hotlineRig) waitIdleAfterCall(t *testing.T, ctx context.Context) {
	t.Helper()
	for {
		select {
		case e := <-h.sub.C:
			if c := payload[AgentChange](e); e.Type == events.AgentState && c.Activity == Idle && c.HandleMS != nil {
				st, _ := h.svc.Stats().Queue("q", time.Now())
				if st.Totals.Answered != 1 {
					t.Fatalf("totals %+v", st.Totals)
				}
				return
			}
		case <-ctx.Done():
			t.Fatal("agent never back to idle")
		}
	}
}

func loopbackBridge(t *testing.T, hangupSide string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ags := []config.Agent{{ID: "alice", Username: "1001", Password: "pw", Queues: map[string]int{"q": 0}}}
	h := startHotline(t, ctx, ags)
	agentHears := referphone.NewTone(600)
	agentHungUp := make(chan struct{})
	agentHangup := make(chan struct{}) // closed: the agent phone hangs up
	agentDigit := make(chan rune, 1)
	phonePool, _ := media.NewPortPool(46500, 46998)
	phone, err := sip.NewServer(sip.ServerConfig{UDP: "127.0.0.1:0", RTP: phonePool, Codecs: []media.Codec{media.PCMA},
		InbandDTMF: "never"}, sip.HandlerFunc(func(ctx context.Context, c *sip.Call) {
		defer close(agentHungUp)
		c.Media().SetAudioSink(agentHears.Sink)
		go func() { // the agent phone reports the first digit it receives
			select {
			case d := <-c.Digits():
				agentDigit <- d.Key
			case <-ctx.Done():
			}
		}()
		pctx, stop := context.WithCancel(ctx)
		go func() {
			select {
			case <-agentHangup:
			case <-pctx.Done():
			}
			stop()
		}()
		referphone.PlayTone(pctx, c.Media(), 1400) // returning hangs up (BYE) unless the caller did
		stop()
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := phone.Listen(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := phone.Serve(context.Background()); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	defer func() { phone.Close(); wg.Wait() }()

	registerPhone(t, ctx, h.addr, phone.Addr().String())
	if err := h.svc.Login("alice"); err != nil {
		t.Fatal(err)
	}
	oc, stopPlay := dialTone(t, ctx, h.addr, 600)
	callerHears := referphone.NewTone(1400)
	oc.Media().SetAudioSink(callerHears.Sink)
	for name, c := range map[string]chan struct{}{"agent hears caller": agentHears.C, "caller hears agent": callerHears.C} {
		select {
		case <-c:
		case <-ctx.Done():
			t.Fatalf("%s: no tone", name)
		}
	}
	// DTMF from the caller reaches the agent as RFC 4733 events.
	if err := oc.Media().SendDigit(ctx, '7', 120*time.Millisecond, media.SourceRFC4733); err != nil {
		t.Fatal(err)
	}
	select {
	case k := <-agentDigit:
		if k != '7' {
			t.Fatalf("agent got digit %q, want 7", k)
		}
	case <-ctx.Done():
		t.Fatal("caller's digit not relayed to the agent")
	}
	stopPlay()
	if hangupSide == "caller" {
		if err := oc.Hangup(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case <-agentHungUp:
		case <-ctx.Done():
			t.Fatal("agent leg not hung up after the caller's BYE")
		}
	} else {
		close(agentHangup)
		select {
		case <-oc.Done():
		case <-ctx.Done():
			t.Fatal("caller not hung up after the agent's BYE")
		}
	}
	h.waitIdleAfterCall(t, ctx)
}

// registerPhone REGISTERs user 1001's contact at phoneAddr with digest auth.
func registerPhone(t *testing.T, ctx context.Context, hotlineAddr, phoneAddr string) {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("1001"))
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	host, port, _ := net.SplitHostPort(hotlineAddr)
	var p int
	for _, c := range port {
		p = p*10 + int(c-'0')
	}
	req := gosip.NewRequest(gosip.REGISTER, gosip.Uri{Scheme: "sip", Host: host, Port: p})
	req.AppendHeader(&gosip.ToHeader{Address: gosip.Uri{Scheme: "sip", User: "1001", Host: "hotline"}})
	req.AppendHeader(gosip.NewHeader("Contact", "<sip:1001@"+phoneAddr+">"))
	req.AppendHeader(gosip.NewHeader("Expires", "300"))
	res, err := cli.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res, err = cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: "1001", Password: "pw"}); err != nil || res.StatusCode != 200 {
		t.Fatalf("REGISTER: %v %v", res, err)
	}
}

// TestLoopbackCallerAbandonsWhileAgentRings: the agent phone rings (180,
// never answers); the caller hangs up; Hotline must CANCEL the agent's
// INVITE (RFC 3261 §9.1) and count the caller as abandoned, not a miss.
func TestLoopbackCallerAbandonsWhileAgentRings(t *testing.T) {
	if testing.Short() {
		t.Skip("loopback SIP")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ags := []config.Agent{{ID: "alice", Username: "1001", Password: "pw", Queues: map[string]int{"q": 0}}}
	h := startHotline(t, ctx, ags)
	phoneBus := events.NewBus()
	phoneSub := phoneBus.Subscribe(64)
	defer phoneSub.Close()
	pool, _ := media.NewPortPool(46500, 46998)
	phone, err := sip.NewServer(sip.ServerConfig{UDP: "127.0.0.1:0", RTP: pool, Bus: phoneBus, RingTime: time.Hour,
		InbandDTMF: "never"}, sip.HandlerFunc(func(context.Context, *sip.Call) { t.Error("agent phone answered") }), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := phone.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); phone.Serve(context.Background()) }()
	defer func() { phone.Close(); <-served }()
	registerPhone(t, ctx, h.addr, phone.Addr().String())
	if err := h.svc.Login("alice"); err != nil {
		t.Fatal(err)
	}
	oc, _ := dialTone(t, ctx, h.addr, 600)
	next := func(sub *events.Subscription, typ string) events.Event {
		t.Helper()
		for {
			select {
			case e := <-sub.C:
				if e.Type == typ {
					return e
				}
			case <-ctx.Done():
				t.Fatalf("no %s event", typ)
			}
		}
	}
	next(phoneSub, events.CallStarted)
	// CANCEL needs a provisional response first (RFC 3261 §9.1): wait until
	// Hotline's agent leg has seen the 180.
	select {
	case <-h.ringing:
	case <-ctx.Done():
		t.Fatal("no 180 from the agent phone")
	}
	if err := oc.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if e := next(phoneSub, events.CallEnded); payload[sip.CallEnd](e).Cause != sip.CauseCancelled {
		t.Fatalf("agent leg ended with %+v, want cancelled", e.Payload)
	}
	if e := next(h.sub, events.QueueLeft); payload[Left](e).Reason != ReasonAbandoned {
		t.Fatalf("caller left with %+v", e.Payload)
	}
	if a, _ := h.svc.Agent("alice"); a.Misses != 0 || a.Activity != Idle {
		t.Fatalf("agent after abandon: %+v", a)
	}
}
