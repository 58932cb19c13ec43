package queue

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/internal/baresiptest"
	"github.com/hotline-dev/hotline/internal/referphone"
	"github.com/hotline-dev/hotline/internal/testports"
	"github.com/hotline-dev/hotline/sip"
)

// toolPorts are the ports this package's tests name for a tool before it
// binds them (baresip's ctrl_tcp): this package's range in
// internal/testports, below the kernel's ephemeral range.
var toolPorts = testports.New(13600, 13799)

// TestBaresipAgentAnswersQueuedCaller uses Debian's baresip as the agent
// phone: it registers with digest auth and auto-answers; a PCMU caller joins
// the queue, Hotline rings baresip's registered contact and bridges. The
// caller must hear baresip's 440 Hz sine and baresip must hear (its WAV dump
// of decoded audio) the caller's 1000 Hz tone. Then one side hangs up and
// the BYE must reach the other through Hotline.
func TestBaresipAgentAnswersQueuedCaller(t *testing.T) {
	for _, side := range []string{"caller", "agent"} {
		t.Run(side+" hangs up", func(t *testing.T) { baresipBridge(t, side) })
	}
}

func baresipBridge(t *testing.T, hangupSide string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ags := []config.Agent{{ID: "lan", Username: "lan", Password: "s3cret", Queues: map[string]int{"q": 0}}}
	h := startHotline(t, ctx, ags)

	agent := startBaresipAgent(t, h.addr, "lan", "s3cret")
	defer agent.Stop()

	for len(h.reg.Lookup("lan")) == 0 { // registration: wait for the binding event
		select {
		case <-h.sub.C:
		case <-ctx.Done():
			t.Fatal("baresip did not register")
		}
	}
	if err := h.svc.Login("lan"); err != nil {
		t.Fatal(err)
	}
	oc, stopPlay := dialTone(t, ctx, h.addr, 1000)
	callerHears := referphone.NewTone(440)
	oc.Media().SetAudioSink(callerHears.Sink)
	select {
	case <-callerHears.C:
	case <-ctx.Done():
		a, _ := h.svc.Agent("lan")
		t.Logf("agent %+v contacts %+v", a, h.reg.Lookup("lan"))
		for {
			select {
			case e := <-h.sub.C:
				t.Logf("event %s %s %+v", e.Type, e.Agent, e.Payload)
				continue
			default:
			}
			break
		}
		t.Fatal("caller did not hear the agent's 440 Hz through the bridge")
	}
	// Let the caller's tone run a moment so baresip's dump holds some, then
	// hang up: BYE must reach baresip, which closes its WAV files.
	wait := time.NewTimer(500 * time.Millisecond)
	<-wait.C
	stopPlay()
	if hangupSide == "caller" {
		if err := oc.Hangup(ctx); err != nil {
			t.Fatal(err)
		}
	} else {
		agent.Command("hangup", "")
		select {
		case <-oc.Done():
		case <-ctx.Done():
			t.Fatal("baresip hung up but no BYE reached the caller")
		}
		if cause, side := oc.Ended(); side != sip.SideRemote {
			t.Errorf("caller's call ended %s by %s, want a remote BYE", cause, side)
		}
	}
	h.waitIdleAfterCall(t, ctx)
	agent.Stop() // baresip closes its WAV dumps on exit
	agentHears := referphone.NewTone(1000)
	dumps := agent.Heard(agentHears.Sink)
	select {
	case <-agentHears.C:
	default:
		t.Fatalf("baresip's decoded audio %v holds no 1000 Hz tone", dumps)
	}
}

// startBaresipAgent runs baresip as an auto-answering agent phone that
// registers user/password to Hotline at hotlineAddr.
func startBaresipAgent(t *testing.T, hotlineAddr, user, password string) *baresiptest.Phone {
	t.Helper()
	_, port, _ := net.SplitHostPort(hotlineAddr)
	return baresiptest.Start(t, baresiptest.Config{Ports: toolPorts, Accounts: "accounts.agent.template", Tone: 440,
		Vars: map[string]string{"AGENT_USER": user, "AGENT_PASSWORD": password, "HOTLINE_SIP_PORT": port}})
}
