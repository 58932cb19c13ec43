package queue

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/sip"
)

func TestTransferResolve(t *testing.T) {
	cfg := TransferConfig{
		Numbers: []string{"2001", "+8428*"}, Hosts: []string{"pbx.example"}, Domains: []string{"hotline", "192.0.2.1"},
		Aliases: map[string]string{"3000": "sales", "9999": "gone"}, Dialer: &fakeDialer{},
		Contacts: func(u string) []string {
			if u == "2001" {
				return []string{"sip:2001@10.0.0.5:5062"}
			}
			return nil
		},
	}
	queues := func(n string) bool { return n == "sales" || n == "technical" }
	tests := []struct {
		name   string
		ref    sip.Refer
		queue  string
		uri    string
		status int
	}{
		{"queue on any host", sip.Refer{User: "sales", Host: "anything.example"}, "sales", "", 0},
		{"queue alias", sip.Refer{User: "3000", Host: "hotline"}, "sales", "", 0},
		{"alias to unknown queue", sip.Refer{User: "9999", Host: "hotline"}, "", "", 403},
		{"number on allowed host", sip.Refer{User: "2001", Host: "pbx.example", Port: 5070}, "", "sip:2001@pbx.example:5070", 0},
		{"prefix on allowed host", sip.Refer{User: "+842838001234", Host: "pbx.example"}, "", "sip:+842838001234@pbx.example", 0},
		{"own domain: registered contact", sip.Refer{User: "2001", Host: "hotline"}, "", "sip:2001@10.0.0.5:5062", 0},
		{"own domain: not registered", sip.Refer{User: "+84281", Host: "192.0.2.1"}, "", "", 480},
		{"number on other host", sip.Refer{User: "2001", Host: "evil.example"}, "", "", 403},
		{"host suffix trick", sip.Refer{User: "2001", Host: "pbx.example.evil.example"}, "", "", 403},
		{"number not allowed", sip.Refer{User: "+19005550100", Host: "pbx.example"}, "", "", 403},
		{"prefix is not a match", sip.Refer{User: "+8427", Host: "pbx.example"}, "", "", 403},
		{"unknown name", sip.Refer{User: "billing", Host: "hotline"}, "", "", 403},
		{"plus inside", sip.Refer{User: "2+001", Host: "pbx.example"}, "", "", 403},
		{"too long", sip.Refer{User: "+8428" + "0123456789012345678901234567", Host: "pbx.example"}, "", "", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cfg.resolve(tt.ref, queues)
			if tt.status == 0 {
				if err != nil || got.queue != tt.queue || got.uri != tt.uri {
					t.Fatalf("resolve = %+v, %v; want queue %q uri %q", got, err, tt.queue, tt.uri)
				}
				return
			}
			var se *sip.StatusError
			if !errors.As(err, &se) || se.Code != tt.status {
				t.Fatalf("resolve = %+v, %v; want status %d", got, err, tt.status)
			}
			if tt.status == 403 && !errors.Is(err, ErrTransferRefused) {
				t.Fatalf("403 without ErrTransferRefused: %v", err)
			}
		})
	}
	noDialer := cfg
	noDialer.Dialer = nil
	if _, err := noDialer.resolve(sip.Refer{User: "2001", Host: "pbx.example"}, queues); !errors.Is(err, ErrTransferRefused) {
		t.Fatalf("number without a dialer: %v", err)
	}
}

// transferRig is Hotline's call path with queues "q" and "sales", agents
// rung at static URIs on 127.0.0.1, and transfers allowed per tc.
type transferRig struct {
	svc *Service
	sub *events.Subscription
	out *sip.Client
}

func startTransferRig(t *testing.T, ctx context.Context, ags []config.Agent, tc TransferConfig) (*transferRig, string) {
	t.Helper()
	bus := events.NewBus()
	sub := bus.Subscribe(1024)
	out, err := sip.NewClient(sip.ClientConfig{Addr: "127.0.0.1:0", Logger: testLog()})
	if err != nil {
		t.Fatal(err)
	}
	dialer := SIPDialer{Client: out}
	ringer := NewSIPRinger(RingerConfig{Dialer: dialer, AllowHosts: []string{"127.0.0.1"}, Logger: testLog()})
	qc := config.Queue{Strategy: "longest-idle", RingTimeout: 10 * time.Second, MaxMisses: 3, WrapUp: 200 * time.Millisecond,
		MaxWait: time.Minute, MaxLength: 10, JoinEmpty: true}
	svc := New(Config{Agents: ags, Ringer: ringer, Bus: bus, Queues: map[string]config.Queue{"q": qc, "sales": qc}})
	ringer.Bind(svc)
	tc.Dialer = dialer
	enq := NewEnqueuer(EnqueuerConfig{Service: svc, Ringer: ringer, Transfer: tc, Logger: testLog()})
	var wg sync.WaitGroup
	runCtx, stopRun := context.WithCancel(ctx)
	wg.Add(1)
	go func() { defer wg.Done(); svc.Run(runCtx) }()
	pool, _ := media.NewPortPool(47000, 47498)
	hotline, err := sip.NewServer(sip.ServerConfig{UDP: "127.0.0.1:0", RTP: pool, Bus: bus, InbandDTMF: "never"},
		sip.HandlerFunc(func(ctx context.Context, c *sip.Call) {
			enq.Enqueue(ctx, c, ivr.QueueRequest{Queue: "q"})
		}), testLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := hotline.Listen(); err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := hotline.Serve(context.Background()); !errors.Is(err, sip.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		hotline.Close() // callers' handlers return: agent legs get BYE
		stopRun()
		ringer.Close()
		out.Close()
		wg.Wait()
		sub.Close()
		if n := pool.InUse(); n != 0 {
			t.Errorf("Hotline RTP ports in use after close: %d", n)
		}
	})
	return &transferRig{svc: svc, sub: sub, out: out}, hotline.Addr().String()
}

func (h *transferRig) event(t *testing.T, ctx context.Context, typ string) events.Event {
	t.Helper()
	for {
		select {
		case e := <-h.sub.C:
			if e.Type == typ {
				return e
			}
		case <-ctx.Done():
			t.Fatalf("no %s event", typ)
		}
	}
}

func nextCall(t *testing.T, ctx context.Context, p *referPhone, who string) *phoneCall {
	t.Helper()
	select {
	case c := <-p.calls:
		return c
	case <-ctx.Done():
		t.Fatalf("%s's phone never answered a call", who)
	}
	return nil
}

func waitClosed(t *testing.T, ctx context.Context, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-ctx.Done():
		t.Fatal(what)
	}
}

// frags checks the NOTIFY bodies the transferring phone received.
func (p *referPhone) wantFrags(t *testing.T, ctx context.Context, want ...string) {
	t.Helper()
	for _, w := range want {
		select {
		case got := <-p.frags:
			if got != w {
				t.Fatalf("NOTIFY sipfrag %q, want %q", got, w)
			}
		case <-ctx.Done():
			t.Fatalf("no NOTIFY %q", w)
		}
	}
}

func twoAgents(alice, bob *referPhone) []config.Agent {
	return []config.Agent{
		{ID: "alice", URI: alice.uri("1001"), Queues: map[string]int{"q": 0}},
		{ID: "bob", URI: bob.uri("1002"), Queues: map[string]int{"sales": 0}},
	}
}

// bridgedToAlice starts the rig with tc and agents alice (1400 Hz) and bob
// (1000 Hz), logs in the agents named, and calls in with a 600 Hz caller who
// is offered to alice; it returns once alice hears the caller, when she may
// REFER.
func bridgedToAlice(t *testing.T, ctx context.Context, tc TransferConfig, login ...string) (
	h *transferRig, oc *sip.OutboundCall, alice, bob *referPhone, ca *phoneCall) {
	t.Helper()
	alice, bob = newReferPhone(t, 47500, 1400), newReferPhone(t, 48500, 1000)
	h, addr := startTransferRig(t, ctx, twoAgents(alice, bob), tc)
	for _, id := range login {
		if err := h.svc.Login(id); err != nil {
			t.Fatal(err)
		}
	}
	oc, _ = dialTone(t, ctx, addr, 600)
	ca = nextCall(t, ctx, alice, "alice")
	waitClosed(t, ctx, ca.hears.C, "alice never heard the caller") // bridged: REFER is taken from now on
	return h, oc, alice, bob, ca
}

// TestLoopbackTransferToQueue: alice answers a caller from queue q and
// blind-transfers to queue sales; Hotline answers 202, NOTIFYs 100 then 200
// (sipfrag), hangs alice up, and the caller is re-queued and reached by bob.
func TestLoopbackTransferToQueue(t *testing.T) {
	if testing.Short() {
		t.Skip("loopback SIP")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h, oc, alice, bob, ca := bridgedToAlice(t, ctx, TransferConfig{}, "alice", "bob")
	if code := alice.refer(ctx, ca, "<sip:sales@hotline>"); code != 202 {
		t.Fatalf("REFER to queue sales: %d, want 202", code)
	}
	alice.wantFrags(t, ctx, "SIP/2.0 100 Trying\r\n", "SIP/2.0 200 OK\r\n")
	waitClosed(t, ctx, ca.ended, "alice's leg not hung up after the transfer")
	e := h.event(t, ctx, CallTransferred)
	if e.Agent != "alice" || e.Queue != "q" || e.Data["kind"] != "queue" || e.Data["target"] != "sales" || e.Data["result"] != "ok" {
		t.Fatalf("call.transferred %+v", e)
	}
	cb := nextCall(t, ctx, bob, "bob")
	waitClosed(t, ctx, cb.hears.C, "bob never heard the caller")
	callerHears := newToneSeen(1000)
	oc.Media().SetAudioSink(callerHears.sink)
	waitClosed(t, ctx, callerHears.C, "the caller never heard bob")
	if err := oc.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, ctx, cb.ended, "bob's leg not hung up after the caller's BYE")
}

// TestLoopbackTransferRefused: forbidden targets get 403 and malformed
// REFERs 400; no NOTIFY is sent and the caller stays bridged to alice.
func TestLoopbackTransferRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("loopback SIP")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, oc, alice, _, ca := bridgedToAlice(t, ctx, TransferConfig{Numbers: []string{"2001"}, Hosts: []string{"pbx.example"}}, "alice")
	for _, tt := range []struct {
		name    string
		referTo []string
		want    int
	}{
		{"allowed number on a host not allowed", []string{"<sip:2001@evil.example>"}, 403},
		{"number not allowed on an allowed host", []string{"<sip:+19005550100@pbx.example>"}, 403},
		{"no such queue", []string{"<sip:billing@hotline>"}, 403},
		{"tel URI", []string{"<tel:2001>"}, 403},
		{"no Refer-To", nil, 400},
		{"two Refer-To", []string{"<sip:sales@hotline>", "<sip:q@hotline>"}, 400},
		{"Refer-To with headers", []string{"<sip:sales@hotline?Replaces=a%40b%3Bto-tag%3D1%3Bfrom-tag%3D2>"}, 400},
	} {
		if got := alice.refer(ctx, ca, tt.referTo...); got != tt.want {
			t.Errorf("%s: REFER answered %d, want %d", tt.name, got, tt.want)
		}
	}
	// Still bridged: the caller hears alice after all of that.
	callerHears := newToneSeen(1400)
	oc.Media().SetAudioSink(callerHears.sink)
	waitClosed(t, ctx, callerHears.C, "caller no longer hears alice")
	select {
	case f := <-alice.frags:
		t.Fatalf("NOTIFY %q after a refused REFER", f)
	case <-ca.ended:
		t.Fatal("alice's leg ended after a refused REFER")
	default:
	}
	if err := oc.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, ctx, ca.ended, "alice's leg not hung up after the caller's BYE")
}

// numberUAS is a SIP UAS at an allow-listed number: it answers (or refuses
// with 404 when accept is false), plays 1800 Hz and reports its calls.
func numberUAS(t *testing.T, accept bool) (string, chan *sip.Call, chan struct{}) {
	t.Helper()
	pool, _ := media.NewPortPool(48000, 48498)
	calls, done := make(chan *sip.Call, 2), make(chan struct{}, 2)
	srv, err := sip.NewServer(sip.ServerConfig{UDP: "127.0.0.1:0", RTP: pool, InbandDTMF: "never",
		Accept: func(string) bool { return accept }},
		sip.HandlerFunc(func(ctx context.Context, c *sip.Call) {
			defer func() { done <- struct{}{} }()
			calls <- c
			playLoop(ctx, c.Media(), 1800)
		}), testLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(context.Background()) }()
	t.Cleanup(func() {
		srv.Close()
		<-served
		if n := pool.InUse(); n != 0 {
			t.Errorf("target RTP ports in use after close: %d", n)
		}
	})
	return srv.Addr().String(), calls, done
}

// TestLoopbackTransferToNumber: alice transfers to an allow-listed number;
// Hotline dials it, NOTIFYs 200 when it answers and bridges the caller to it.
func TestLoopbackTransferToNumber(t *testing.T) {
	if testing.Short() {
		t.Skip("loopback SIP")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	target, calls, done := numberUAS(t, true)
	h, oc, alice, _, ca := bridgedToAlice(t, ctx, TransferConfig{Numbers: []string{"20*"}, Hosts: []string{"127.0.0.1"}}, "alice")
	if code := alice.refer(ctx, ca, "<sip:2001@"+target+">"); code != 202 {
		t.Fatalf("REFER to an allowed number: %d, want 202", code)
	}
	var tc *sip.Call
	select {
	case tc = <-calls:
	case <-ctx.Done():
		t.Fatal("the number was never dialled")
	}
	if tc.Called() != "2001" || tc.Caller() != "0901234567" {
		t.Fatalf("target got a call to %q from %q", tc.Called(), tc.Caller())
	}
	alice.wantFrags(t, ctx, "SIP/2.0 100 Trying\r\n", "SIP/2.0 200 OK\r\n")
	waitClosed(t, ctx, ca.ended, "alice's leg not hung up after the transfer")
	targetHears := newToneSeen(600)
	tc.Media().SetAudioSink(targetHears.sink)
	callerHears := newToneSeen(1800)
	oc.Media().SetAudioSink(callerHears.sink)
	waitClosed(t, ctx, targetHears.C, "the number never heard the caller")
	waitClosed(t, ctx, callerHears.C, "the caller never heard the number")
	e := h.event(t, ctx, CallTransferred)
	if e.Data["kind"] != "number" || e.Data["target"] != "sip:2001@"+target || e.Data["result"] != "ok" {
		t.Fatalf("call.transferred %+v", e)
	}
	if err := oc.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("the number's leg not hung up after the caller's BYE")
	}
}

// TestLoopbackTransferFailsBackToQueue: the number refuses (404); the
// final NOTIFY says so, alice is hung up, and the caller goes back to queue
// q, where alice (after wrap-up) is offered the call again.
func TestLoopbackTransferFailsBackToQueue(t *testing.T) {
	if testing.Short() {
		t.Skip("loopback SIP")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	target, _, _ := numberUAS(t, false)
	h, oc, alice, _, ca := bridgedToAlice(t, ctx, TransferConfig{Numbers: []string{"2001"}, Hosts: []string{"127.0.0.1"}}, "alice")
	if code := alice.refer(ctx, ca, "<sip:2001@"+target+">"); code != 202 {
		t.Fatalf("REFER: %d, want 202", code)
	}
	alice.wantFrags(t, ctx, "SIP/2.0 100 Trying\r\n", "SIP/2.0 404 Not Found\r\n")
	waitClosed(t, ctx, ca.ended, "alice's leg not hung up after the failed transfer")
	if e := h.event(t, ctx, CallTransferred); e.Data["result"] != "404 Not Found" {
		t.Fatalf("call.transferred %+v", e)
	}
	if e := h.event(t, ctx, events.QueueJoined); e.Queue != "q" {
		t.Fatalf("caller re-joined %+v", e)
	}
	again := nextCall(t, ctx, alice, "alice (second offer)")
	waitClosed(t, ctx, again.hears.C, "alice never heard the caller again")
	if err := oc.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, ctx, again.ended, "alice's second leg not hung up after the caller's BYE")
}

func testLog() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

func TestBridgeEndsForTransfer(t *testing.T) {
	tests := []struct {
		name                   string
		stop, agentBye, hangup bool
		want                   string
	}{
		{"agent hangs up", false, true, false, "agent"},
		{"caller hangs up", false, false, true, "caller"},
		{"transfer accepted", true, false, false, "transfer"},
		{"transfer wins over the agent's BYE", true, true, false, "transfer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ag, stop := newFakeAgentCall(), make(chan struct{})
			if tt.stop {
				close(stop)
			}
			if tt.agentBye {
				close(ag.done)
			}
			if tt.hangup {
				cancel()
			}
			if got := bridge(ctx, newFakeLeg(), ag, stop); got != tt.want {
				t.Fatalf("bridge ended by %q, want %q", got, tt.want)
			}
			if tt.want == "transfer" && ag.hungUp {
				t.Fatal("bridge hung the agent up itself on a transfer")
			}
		})
	}
}
