package e2e

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
)

// pcmRecorder keeps what one side hears (bounded) for a frequency check.
type pcmRecorder struct {
	mu  sync.Mutex
	pcm []int16
}

func (r *pcmRecorder) sink(p []int16) {
	r.mu.Lock()
	if len(r.pcm) < 8000*30 {
		r.pcm = append(r.pcm, p...)
	}
	r.mu.Unlock()
}

// hears reports whether freq dominates the recording: its Goertzel power is
// well above that of the other side's tone.
func (r *pcmRecorder) hears(freq, other float64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pcm) < 8000 {
		return false
	}
	return media.TonePower(r.pcm, freq) > 10*media.TonePower(r.pcm, other)
}

// agentPhone is a real SIP user agent on loopback standing in for an
// agent's desk phone: it answers, sends a 440 Hz tone, records what it
// hears and hangs up when told.
type agentPhone struct {
	srv    *sip.Server
	events *events.Subscription // the phone's own call events
	heard  pcmRecorder
	hangup chan struct{}
	calls  chan string
	wg     sync.WaitGroup
}

func startAgentPhone(t *testing.T) *agentPhone { return startRingingPhone(t, 0) }

// startRingingPhone is an agent phone that rings for ring before answering.
func startRingingPhone(t *testing.T, ring time.Duration) *agentPhone {
	t.Helper()
	return startPhoneOn(t, "127.0.0.1", ring)
}

// startPhoneOn is an agent phone listening on ip (another 127.0.0.x is
// another host: a trunk or PBX in allow.hosts, apart from agents' phones).
func startPhoneOn(t *testing.T, ip string, ring time.Duration) *agentPhone {
	t.Helper()
	pool, err := media.NewPortPool(41000, 43998)
	must(t, err)
	bus := events.NewBus()
	p := &agentPhone{hangup: make(chan struct{}), calls: make(chan string, 4), events: bus.Subscribe(256)}
	tone := media.NewPromptPCM("agent-tone", media.Tone([]float64{440}, 20*time.Second))
	srv, err := sip.NewServer(sip.ServerConfig{UDP: ip + ":0", RTP: pool, InactivityTimeout: time.Minute, InbandDTMF: "never", RingTime: ring, Bus: bus},
		sip.HandlerFunc(func(ctx context.Context, c *sip.Call) {
			c.Media().SetAudioSink(p.heard.sink)
			p.calls <- c.ID()
			playCtx, stop := context.WithCancel(ctx)
			defer stop()
			go func() { _ = c.Play(playCtx, tone) }()
			select {
			case <-p.hangup:
			case <-ctx.Done():
			}
		}), nil)
	must(t, err)
	must(t, srv.Listen())
	p.srv = srv
	p.wg.Add(1)
	go func() { defer p.wg.Done(); _ = srv.Serve(context.Background()) }()
	t.Cleanup(func() { srv.Close(); p.wg.Wait(); p.events.Close() })
	return p
}

func TestCallerReachesAgentThroughIVRAndQueue(t *testing.T) {
	leakCheck(t)
	agent := startAgentPhone(t)
	h := start(t, func(c *config.Config) {
		c.Agents = []config.Agent{{ID: "lan", Name: "Lan", URI: "sip:lan@" + agent.srv.Addr().String(), Queues: map[string]int{"technical": 0}}}
		c.Allow.Hosts = []string{"127.0.0.1"}
	})
	apiPost(t, h, "/api/v1/agents/lan/state", `{"state":"login"}`)

	_, call, _ := dial(t, h, "sip:100@"+h.sipAddr("udp"), sip.DialOptions{From: "0912345678"})
	var heard pcmRecorder
	call.Media().SetAudioSink(heard.sink)
	id := call.ID()
	h.menus(call, "language", "1", "main", "1")
	h.node(id, "technical-queue")
	h.waitEvent(20*time.Second, "bridge to the agent", func(e events.Event) bool {
		return e.Type == events.CallBridged && e.CallID == id
	})
	select {
	case <-agent.calls:
	case <-time.After(5 * time.Second):
		t.Fatal("agent phone never got the call")
	}

	// Both directions through the bridge, told apart by frequency.
	callerTone := media.NewPromptPCM("caller-tone", media.Tone([]float64{1000}, 3*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	must(t, call.Media().Play(ctx, callerTone))
	cancel()
	if !agent.heard.hears(1000, 440) {
		t.Error("agent did not hear the caller's 1000 Hz tone through the bridge")
	}
	if !heard.hears(440, 1000) {
		t.Error("caller did not hear the agent's 440 Hz tone through the bridge")
	}

	close(agent.hangup) // the agent hangs up: Hotline must send BYE to the caller
	select {
	case <-call.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("caller not hung up after the agent hung up")
	}
	it := h.interaction(id)
	v := it.Voice
	if v.Queue != "technical" || v.Agent != "lan" || v.Outcome != store.OutcomeCompleted {
		t.Errorf("record: queue %q agent %q outcome %q", v.Queue, v.Agent, v.Outcome)
	}
	if v.HangupSide != store.SideAgent || v.HangupCause != string(sip.CauseAgentBye) {
		t.Errorf("record: hang-up side %q cause %q, want agent, %s (the agent hung up)", v.HangupSide, v.HangupCause, sip.CauseAgentBye)
	}
	if v.TalkSeconds < 2.5 { // the caller's 3 s tone (its last frame leaves at 2.98 s) played inside the bridge
		t.Errorf("record: talk time %.1fs, want at least the 3 s spent bridged", v.TalkSeconds)
	}
	h.shutdown()
	if n := h.app.Ports().InUse(); n != 0 {
		t.Errorf("%d RTP ports in use", n)
	}
}

func apiPost(t *testing.T, h *harness, path, body string) {
	t.Helper()
	req, err := http.NewRequest("POST", "http://"+h.app.HTTPAddr().String()+path, strings.NewReader(body))
	must(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	must(t, err)
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		t.Fatalf("POST %s: %s", path, res.Status)
	}
}
