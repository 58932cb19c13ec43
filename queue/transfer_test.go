package queue

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/bridge"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/referphone"
	"github.com/hotline-dev/hotline/internal/siptest"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
)

func TestTransferResolve(t *testing.T) {
	cfg := TransferConfig{
		Policy:  policyFor(t, config.Allow{Numbers: []string{"+8428*"}, Extensions: []string{"2001", "2002"}, Hosts: []string{"pbx.example"}}),
		Aliases: map[string]string{"3000": "sales", "9999": "gone"}, Dialer: &fakeDialer{},
		Contacts: func(u string) []string {
			switch u {
			case "2001":
				return []string{"sip:2001@10.0.0.5:5062"}
			case "2002": // registered before the allow-list changed
				return []string{"sip:+88216000000@pbx.example"}
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
		{"own domain: not registered", sip.Refer{User: "+842838009999", Host: "192.0.2.1"}, "", "", 480},
		{"own domain: contact refused", sip.Refer{User: "2002", Host: "hotline"}, "", "", 480},
		{"national number dialled as E.164", sip.Refer{User: "02838001234", Host: "pbx.example"}, "", "sip:+842838001234@pbx.example", 0},
		{"premium number on allowed host", sip.Refer{User: "+88216000000", Host: "pbx.example"}, "", "", 403},
		{"not a possible number", sip.Refer{User: "+84281", Host: "192.0.2.1"}, "", "", 403},
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
			got, err := cfg.resolve(tt.ref, queues, testLog())
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
	if _, err := noDialer.resolve(sip.Refer{User: "2001", Host: "pbx.example"}, queues, testLog()); !errors.Is(err, ErrTransferRefused) {
		t.Fatalf("number without a dialer: %v", err)
	}
}

// transferRig is Hotline's call path with queues "q" and "sales", agents
// rung at static URIs on 127.0.0.1, and transfers allowed per tc.
type transferRig struct {
	svc     *Service
	sub     *events.Subscription
	out     *sip.Client
	results chan ivr.QueueResult // what Enqueue returned, per call
}

// result is what Enqueue returned for the next call to end.
func (h *transferRig) result(t *testing.T, ctx context.Context) ivr.QueueResult {
	t.Helper()
	select {
	case r := <-h.results:
		return r
	case <-ctx.Done():
		t.Fatal("Enqueue did not return")
	}
	return ivr.QueueResult{}
}

// wantLegs checks each leg's queue, agent, number, end, side and transfer
// target, and that an answered leg has talk time.
func wantLegs(t *testing.T, got []store.CallLeg, want ...store.CallLeg) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d legs %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Queue != w.Queue || g.Agent != w.Agent || g.Number != w.Number || g.End != w.End || g.EndedBy != w.EndedBy ||
			g.TransferTo != w.TransferTo || g.Reason != w.Reason {
			t.Errorf("leg %d = %+v\nwant %+v", i, g, w)
		}
		if g.Answered() != (w.AnsweredAt != nil) || (g.Answered() && g.TalkSeconds <= 0) || g.EndedAt.Before(g.JoinedAt) {
			t.Errorf("leg %d times: joined %v answered %v ended %v talk %.3fs", i, g.JoinedAt, g.AnsweredAt, g.EndedAt, g.TalkSeconds)
		}
		if i > 0 && g.JoinedAt.Before(got[i-1].EndedAt) {
			t.Errorf("leg %d starts before leg %d ends", i, i-1)
		}
	}
}

func startTransferRig(t *testing.T, ctx context.Context, ags []config.Agent, tc TransferConfig) (*transferRig, string) {
	t.Helper()
	bus := events.NewBus()
	sub := bus.Subscribe(1024)
	out := siptest.Client(t, sip.ClientConfig{Addr: "127.0.0.1:0", Logger: testLog()})
	dialer := bridge.SIPDialer{Client: out}
	ringer := NewSIPRinger(RingerConfig{Dialer: dialer, Logger: testLog(),
		Policy: policyFor(t, config.Allow{Hosts: []string{"127.0.0.1"}, Extensions: []string{"1001", "1002"}})})
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
	results := make(chan ivr.QueueResult, 4)
	hotline, err := sip.NewServer(sip.ServerConfig{UDP: "127.0.0.1:0", RTP: pool, Bus: bus, InbandDTMF: "never"},
		sip.HandlerFunc(func(ctx context.Context, c *sip.Call) {
			res, _ := enq.Enqueue(ctx, c, ivr.QueueRequest{Queue: "q"})
			results <- res
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
		if err := hotline.Serve(context.Background()); err != nil {
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
	return &transferRig{svc: svc, sub: sub, out: out, results: results}, hotline.Addr().String()
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

func nextCall(t *testing.T, ctx context.Context, p *referphone.ReferPhone, who string) *referphone.PhoneCall {
	t.Helper()
	select {
	case c := <-p.Calls:
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

func twoAgents(alice, bob *referphone.ReferPhone) []config.Agent {
	return []config.Agent{
		{ID: "alice", URI: alice.URI("1001"), Queues: map[string]int{"q": 0}},
		{ID: "bob", URI: bob.URI("1002"), Queues: map[string]int{"sales": 0}},
	}
}

// bridgedToAlice starts the rig with tc and agents alice (1400 Hz) and bob
// (1000 Hz), logs in the agents named, and calls in with a 600 Hz caller who
// is offered to alice; it returns once alice hears the caller, when she may
// REFER.
func bridgedToAlice(t *testing.T, ctx context.Context, tc TransferConfig, login ...string) (
	h *transferRig, oc *sip.OutboundCall, alice, bob *referphone.ReferPhone, ca *referphone.PhoneCall) {
	t.Helper()
	alice, bob = referphone.NewReferPhone(t, 47500, 1400, 600), referphone.NewReferPhone(t, 48500, 1000, 600)
	h, addr := startTransferRig(t, ctx, twoAgents(alice, bob), tc)
	for _, id := range login {
		if err := h.svc.Login(id); err != nil {
			t.Fatal(err)
		}
	}
	oc, _ = dialTone(t, ctx, addr, 600)
	ca = nextCall(t, ctx, alice, "alice")
	waitClosed(t, ctx, ca.Hears.C, "alice never heard the caller") // bridged: REFER is taken from now on
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
	if code := alice.Refer(ctx, ca, "<sip:sales@hotline>"); code != 202 {
		t.Fatalf("REFER to queue sales: %d, want 202", code)
	}
	alice.WantFrags(ctx, "SIP/2.0 100 Trying\r\n", "SIP/2.0 200 OK\r\n")
	waitClosed(t, ctx, ca.Ended, "alice's leg not hung up after the transfer")
	e := h.event(t, ctx, CallTransferred)
	if tr := payload[Transferred](e); e.Agent != "alice" || e.Queue != "q" || tr.Kind != "queue" || tr.Target != "sales" || tr.Result != "ok" || tr.From != "q" {
		t.Fatalf("call.transferred %+v", e)
	}
	cb := nextCall(t, ctx, bob, "bob")
	waitClosed(t, ctx, cb.Hears.C, "bob never heard the caller")
	callerHears := referphone.NewTone(1000)
	oc.Media().SetAudioSink(callerHears.Sink)
	waitClosed(t, ctx, callerHears.C, "the caller never heard bob")
	if err := oc.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, ctx, cb.Ended, "bob's leg not hung up after the caller's BYE")
	res := h.result(t, ctx)
	answered := &time.Time{}
	wantLegs(t, res.Legs,
		store.CallLeg{Queue: "q", Agent: "alice", AnsweredAt: answered, End: store.LegTransferred, EndedBy: store.SideAgent, TransferTo: "sales"},
		store.CallLeg{Queue: "sales", Agent: "bob", AnsweredAt: answered, End: store.LegHangup, EndedBy: store.SideCaller})
	if !res.Answered {
		t.Error("result not answered")
	}
}

// TestLoopbackTransferRefused: forbidden targets get 403 and malformed
// REFERs 400; no NOTIFY is sent and the caller stays bridged to alice.
func TestLoopbackTransferRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("loopback SIP")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, oc, alice, _, ca := bridgedToAlice(t, ctx, TransferConfig{Policy: policyFor(t, config.Allow{Extensions: []string{"2001"}, Hosts: []string{"pbx.example"}})}, "alice")
	for _, tt := range []struct {
		name    string
		referTo []string
		want    int
	}{
		{"allowed number on a host not allowed", []string{"<sip:2001@evil.example>"}, 403},
		{"number not allowed on an allowed host", []string{"<sip:+19005550100@pbx.example>"}, 403},
		{"premium number on an allowed host", []string{"<sip:+88216000000@pbx.example>"}, 403},
		{"premium number escaped", []string{"<sip:%2B88216000000@pbx.example>"}, 403},
		{"premium number in national form", []string{"<sip:0088216000000@PBX.Example>"}, 403},
		{"no such queue", []string{"<sip:billing@hotline>"}, 403},
		{"tel URI", []string{"<tel:2001>"}, 403},
		{"no Refer-To", nil, 400},
		{"two Refer-To", []string{"<sip:sales@hotline>", "<sip:q@hotline>"}, 400},
		{"Refer-To with headers", []string{"<sip:sales@hotline?Replaces=a%40b%3Bto-tag%3D1%3Bfrom-tag%3D2>"}, 400},
	} {
		if got := alice.Refer(ctx, ca, tt.referTo...); got != tt.want {
			t.Errorf("%s: REFER answered %d, want %d", tt.name, got, tt.want)
		}
	}
	// Still bridged: the caller hears alice after all of that.
	callerHears := referphone.NewTone(1400)
	oc.Media().SetAudioSink(callerHears.Sink)
	waitClosed(t, ctx, callerHears.C, "caller no longer hears alice")
	select {
	case f := <-alice.Frags:
		t.Fatalf("NOTIFY %q after a refused REFER", f)
	case <-ca.Ended:
		t.Fatal("alice's leg ended after a refused REFER")
	default:
	}
	if err := oc.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, ctx, ca.Ended, "alice's leg not hung up after the caller's BYE")
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
			referphone.PlayTone(ctx, c.Media(), 1800)
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
	h, oc, alice, _, ca := bridgedToAlice(t, ctx, TransferConfig{Policy: policyFor(t, config.Allow{Extensions: []string{"2000-2099"}, Hosts: []string{"127.0.0.1"}})}, "alice")
	if code := alice.Refer(ctx, ca, "<sip:2001@"+target+">"); code != 202 {
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
	alice.WantFrags(ctx, "SIP/2.0 100 Trying\r\n", "SIP/2.0 200 OK\r\n")
	waitClosed(t, ctx, ca.Ended, "alice's leg not hung up after the transfer")
	targetHears := referphone.NewTone(600)
	tc.Media().SetAudioSink(targetHears.Sink)
	callerHears := referphone.NewTone(1800)
	oc.Media().SetAudioSink(callerHears.Sink)
	waitClosed(t, ctx, targetHears.C, "the number never heard the caller")
	waitClosed(t, ctx, callerHears.C, "the caller never heard the number")
	e := h.event(t, ctx, CallTransferred)
	if tr := payload[Transferred](e); tr.Kind != "number" || tr.Target != "sip:2001@"+target || tr.Result != "ok" {
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
	res := h.result(t, ctx)
	answered := &time.Time{}
	wantLegs(t, res.Legs,
		store.CallLeg{Queue: "q", Agent: "alice", AnsweredAt: answered, End: store.LegTransferred, EndedBy: store.SideAgent, TransferTo: "sip:2001@" + target},
		store.CallLeg{Queue: "q", Number: "sip:2001@" + target, AnsweredAt: answered, End: store.LegHangup, EndedBy: store.SideCaller})
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
	h, oc, alice, _, ca := bridgedToAlice(t, ctx, TransferConfig{Policy: policyFor(t, config.Allow{Extensions: []string{"2001"}, Hosts: []string{"127.0.0.1"}})}, "alice")
	if code := alice.Refer(ctx, ca, "<sip:2001@"+target+">"); code != 202 {
		t.Fatalf("REFER: %d, want 202", code)
	}
	alice.WantFrags(ctx, "SIP/2.0 100 Trying\r\n", "SIP/2.0 404 Not Found\r\n")
	waitClosed(t, ctx, ca.Ended, "alice's leg not hung up after the failed transfer")
	if e := h.event(t, ctx, CallTransferred); payload[Transferred](e).Result != "404 Not Found" {
		t.Fatalf("call.transferred %+v", e)
	}
	if e := h.event(t, ctx, events.QueueJoined); e.Queue != "q" {
		t.Fatalf("caller re-joined %+v", e)
	}
	again := nextCall(t, ctx, alice, "alice (second offer)")
	waitClosed(t, ctx, again.Hears.C, "alice never heard the caller again")
	if err := oc.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, ctx, again.Ended, "alice's second leg not hung up after the caller's BYE")
	res := h.result(t, ctx)
	answered := &time.Time{}
	wantLegs(t, res.Legs,
		store.CallLeg{Queue: "q", Agent: "alice", AnsweredAt: answered, End: store.LegTransferred, EndedBy: store.SideAgent, TransferTo: "sip:2001@" + target},
		store.CallLeg{Queue: "q", Number: "sip:2001@" + target, End: store.LegUnanswered, Reason: "404 Not Found"},
		store.CallLeg{Queue: "q", Agent: "alice", AnsweredAt: answered, End: store.LegHangup, EndedBy: store.SideCaller})
}

func testLog() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}
