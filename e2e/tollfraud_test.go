package e2e

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/baresiptest"
	"github.com/hotline-dev/hotline/internal/siptest"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/registrar"
	"github.com/hotline-dev/hotline/sip"
)

// Toll fraud through an agent's registered Contact (issue 8 point 1),
// against the whole server built from its configuration: whoever holds
// agent 2001's password tries to register a premium number, on the trunk
// and on any host; each REGISTER is refused with 403 and a
// registrar.contact_refused event, nothing is bound. Meanwhile baresip
// registers as agent lan and a caller going through the IVR to the
// technical queue is answered by it. The trunk receives nothing.
func TestTollFraudContactRefusedByServer(t *testing.T) {
	leakCheck(t)
	trunk := siptest.StartTrunk(t)
	h := start(t, func(c *config.Config) {
		c.Agents = []config.Agent{
			{ID: "mallory", Name: "Stolen", Username: "2001", Password: "pw2001", Queues: map[string]int{"technical": 0}},
			{ID: "lan", Name: "Lan", Username: "lan", Password: "s3cret", Queues: map[string]int{"technical": 0}},
		}
		c.Allow = config.Allow{Numbers: []string{"+8428*"}, Extensions: []string{"100-199"}, Hosts: []string{trunk.Addr()}}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, contact := range []string{
		"<sip:+88216000000@" + trunk.Addr() + ">",
		"<sip:%2B88216000000@" + trunk.Addr() + ";user=phone>",
		"<sip:0088216000000@10.1.2.3:5060>",
		"<sip:stolen@" + trunk.Addr() + ">",
	} {
		status, err := siptest.Register(ctx, h.sipAddr("udp"), "2001", "pw2001", contact)
		must(t, err)
		if status != 403 {
			t.Errorf("REGISTER Contact %s: %d, want 403", contact, status)
		}
		h.waitEvent(5*time.Second, "contact refused", func(e events.Event) bool {
			return e.Type == registrar.EventContactRefused && e.Agent == "mallory" && payload[registrar.Refusal](e).Contact == contact
		})
	}

	_, port, _ := net.SplitHostPort(h.sipAddr("udp"))
	agent := baresiptest.Start(t, baresiptest.Config{Ports: toolPorts, Accounts: "accounts.agent.template", Tone: 440,
		Vars: map[string]string{"AGENT_USER": "lan", "AGENT_PASSWORD": "s3cret", "HOTLINE_SIP_PORT": port}})
	defer agent.Stop()
	h.waitEvent(10*time.Second, "baresip bound", func(e events.Event) bool {
		return e.Type == registrar.EventBinding && e.Agent == "lan" && payload[registrar.BindingChange](e).Action == registrar.ActionAdded
	})
	apiPost(t, h, "/api/v1/agents/mallory/state", `{"state":"login"}`)
	apiPost(t, h, "/api/v1/agents/lan/state", `{"state":"login"}`)

	_, call, _ := dial(t, h, "sip:100@"+h.sipAddr("udp"), sip.DialOptions{From: "0912000009"})
	id := call.ID()
	h.menus(call, "language", "1", "main", "1")
	h.waitEvent(20*time.Second, "bridged to lan", func(e events.Event) bool {
		return e.Type == events.CallBridged && e.CallID == id && e.Agent == "lan"
	})
	heard := make(chan struct{})
	var once sync.Once
	call.Media().SetAudioSink(func(pcm []int16) {
		if media.ToneShare(pcm, 440) > 0.6 {
			once.Do(func() { close(heard) })
		}
	})
	select {
	case <-heard:
	case <-call.Done():
		t.Fatal("call ended before the caller heard the agent")
	case <-ctx.Done():
		t.Fatal("caller did not hear baresip's 440 Hz through the bridge")
	}
	must(t, call.Hangup(ctx))
	if got := trunk.Received(); len(got) != 0 {
		t.Fatalf("the trunk received %q", got)
	}
	h.shutdown()
}
